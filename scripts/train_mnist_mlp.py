"""Train the MLP (784-256-10 by default) on MNIST and report accuracy, macro-F1 and micro-F1."""
import sys

import fastgrad
from fastgrad.models import MLP
from mnist_training import build_parser, train


def main(argv=None):
    parser = build_parser(__doc__, defaults={"epochs": 5, "lr": 0.01})
    parser.add_argument("--hidden", type=int, nargs="+", default=[256],
                        help="hidden layer sizes, e.g. --hidden 128 64")
    args = parser.parse_args(argv)
    fastgrad.manual_seed(args.seed)
    model = MLP([784] + args.hidden + [10])
    return train(model, args, add_channel=False)


if __name__ == "__main__":
    main(sys.argv[1:])
