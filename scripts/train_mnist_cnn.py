"""Train the reference CNN (MNISTClassificationModel) on MNIST and report accuracy, macro-F1
and micro-F1; ``--impl naive`` trains the loop-reference version of the same network."""
import sys

import fastgrad
from fastgrad.models import MNISTClassificationModel
from mnist_training import build_parser, train


def main(argv=None):
    parser = build_parser(__doc__, defaults={"epochs": 3, "lr": 0.01})
    parser.add_argument("--impl", choices=("im2col", "naive"), default="im2col")
    parser.add_argument("--conv-relu", action="store_true", help="ReLU after each convolution")
    args = parser.parse_args(argv)
    fastgrad.manual_seed(args.seed)
    model = MNISTClassificationModel(conv_relu=args.conv_relu, impl=args.impl)
    return train(model, args, add_channel=True)


if __name__ == "__main__":
    main(sys.argv[1:])
