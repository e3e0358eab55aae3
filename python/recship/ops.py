"""Graph ops, named as in TensorFlow's Python API.

Ops build into the graph recship is exporting: call them inside a model_fn or
serving_input_receiver_fn. Each returns an :class:`Output` whose dtype and
static shape are known at once, and raises (naming the node) as soon as an
input does not fit, rather than when the export ends. ``Output`` supports
``+ - * / @`` with Outputs and Python numbers.
"""

from recship._recship import (
    Output,
    add,
    bias_add,
    cast,
    concat,
    constant,
    device,
    divide,
    exp,
    expand_dims,
    fill,
    floormod,
    gather,
    identity,
    is_building,
    log,
    matmul,
    maximum,
    multiply,
    name_scope,
    placeholder,
    placeholder_with_default,
    reduce_mean,
    reduce_sum,
    relu,
    reshape,
    rsqrt,
    shape,
    sigmoid,
    softmax,
    sqrt,
    square,
    squeeze,
    stack,
    subtract,
    tanh,
)

__all__ = [
    "Output", "add", "bias_add", "cast", "concat", "constant", "device", "divide", "exp",
    "expand_dims", "fill", "floormod", "gather", "identity", "is_building", "log", "matmul",
    "maximum", "multiply", "name_scope", "placeholder", "placeholder_with_default",
    "reduce_mean", "reduce_sum", "relu", "reshape", "rsqrt", "shape", "sigmoid", "softmax",
    "sqrt", "square", "squeeze", "stack", "subtract", "tanh",
]
