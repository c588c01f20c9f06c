"""plax.nn: activation functions, softmax/logsumexp and one_hot (as jax.nn), plus
`plax.nn.initializers` for parameter initialization."""

from plax._src.nn import (  # noqa: F401
    celu, elu, gelu, glu, hard_sigmoid, hard_silu, hard_swish, hard_tanh, identity, leaky_relu,
    log_sigmoid, log_softmax, logmeanexp, logsumexp, mish, one_hot, relu, relu6, selu, sigmoid,
    silu, soft_sign, softmax, softplus, sparse_plus, sparse_sigmoid, squareplus, standardize,
    swish, tanh)
from plax._src.nn_attention import dot_product_attention, log1mexp  # noqa: F401
from plax._src.nn_scaled import (  # noqa: F401
    get_scaled_dot_general_config, scaled_dot_general, scaled_matmul)
from plax.nn import initializers  # noqa: F401

__all__ = ["dot_product_attention", "log1mexp",
           "get_scaled_dot_general_config", "scaled_dot_general", "scaled_matmul",
           "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
           "identity", "initializers", "leaky_relu", "log_sigmoid", "log_softmax", "logmeanexp",
           "logsumexp", "mish", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu",
           "soft_sign", "softmax", "softplus", "sparse_plus", "sparse_sigmoid", "squareplus",
           "standardize", "swish", "tanh"]
