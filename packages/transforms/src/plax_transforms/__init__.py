"""plax-transforms: jvp, grad, vmap, jit, pmap and the rules of every core primitive.

A plax plugin: it registers through the `plax.plugins` entry point (module
`plax_transforms.plugin`) like any third party, and users reach it as `plax.grad`, `plax.jit`...
"""
