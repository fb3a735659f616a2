"""Train the reference CNN (MNISTClassificationModel) on MNIST and report accuracy, macro-F1
and micro-F1; ``--impl naive`` trains the loop-reference version of the same network,
``--model bn`` the BatchNorm CNN (MNISTBatchNormCNN) instead.
``--export-onnx PATH`` writes the trained model as ONNX, ``--graph PATH`` draws the backward
graph of one training step."""
import os
import sys

import fastgrad
from fastgrad.models import MNISTBatchNormCNN, MNISTClassificationModel
from mnist_training import build_parser, train


def export_onnx(model, path, log=print):
    """The model as ONNX with a dynamic batch axis (input "images", output "logits")."""
    import fastgrad.onnx

    fastgrad.onnx.export(model, fastgrad.zeros(2, 1, 28, 28), path, input_names=["images"],
                         output_names=["logits"],
                         dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    log(f"ONNX model written to {path}")


def write_graph(model, path, batch_size, log=print):
    """The backward graph of one training step's loss: DOT text for .dot / .gv, else a
    picture in the format the suffix names, drawn by Graphviz's ``dot`` program."""
    import graphviz
    from fastgrad.viz import make_dot

    x = fastgrad.zeros(batch_size, 1, 28, 28)
    loss = fastgrad.nn.functional.cross_entropy(
        model(x), fastgrad.zeros(batch_size, dtype=fastgrad.int64))
    dot = make_dot(loss, params=dict(model.named_parameters()))
    stem, suffix = os.path.splitext(path)
    if suffix not in (".dot", ".gv"):
        try:
            dot.render(outfile=path, cleanup=True)
            log(f"graph drawn to {path}")
            return
        except graphviz.ExecutableNotFound:
            path = stem + ".dot"
            log(f"Graphviz's dot program is not installed: the graph's DOT text goes to {path}")
    with open(path, "w") as f:
        f.write(dot.source)
    log(f"graph written to {path}")


# Each model's default learning rate (SGD, momentum 0.9): BatchNorm takes a larger one.
DEFAULT_LR = {"reference": 0.01, "bn": 0.05}


def main(argv=None):
    parser = build_parser(__doc__, defaults={"epochs": 3, "lr": None})
    parser.add_argument("--model", choices=tuple(DEFAULT_LR), default="reference",
                        help="the reference CNN, or the BatchNorm CNN (default --lr "
                             + ", ".join(f"{m}: {lr}" for m, lr in DEFAULT_LR.items()) + ")")
    parser.add_argument("--impl", choices=("im2col", "naive"), default="im2col")
    parser.add_argument("--conv-relu", action="store_true", help="ReLU after each convolution")
    parser.add_argument("--export-onnx", metavar="PATH",
                        help="write the trained model as ONNX (needs fastgrad[onnx])")
    parser.add_argument("--graph", metavar="PATH",
                        help="draw the backward graph: .svg / .png / .pdf (needs Graphviz's "
                             "dot), or .dot for its text (needs fastgrad[viz])")
    args = parser.parse_args(argv)
    if args.model == "bn" and (args.impl != "im2col" or args.conv_relu):
        parser.error("--impl and --conv-relu choose variants of the reference model only")
    if args.lr is None:
        args.lr = DEFAULT_LR[args.model]
    fastgrad.manual_seed(args.seed)
    if args.model == "bn":
        model = MNISTBatchNormCNN()
    else:
        model = MNISTClassificationModel(conv_relu=args.conv_relu, impl=args.impl)
    results = train(model, args, add_channel=True)
    if args.export_onnx:
        export_onnx(model, args.export_onnx)
    if args.graph:
        write_graph(model, args.graph, args.batch_size)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
