"""JAX's examples/mnist_vae.py on synthetic 8x8 images (nothing fetched): a stax VAE whose
epoch is one jitted `lax.fori_loop` over batches (random.fold_in/split/bernoulli/normal
inside), evaluated by a second jitted function. Two epochs; `first_epoch` is the training
script whose compile count tests/test_jax_examples.py compares with JAX's."""

import numpy as np
import numpy.random as npr

import jax
import jax.numpy as jnp
from jax import grad, jit, lax, random
from jax.example_libraries import optimizers, stax
from jax.example_libraries.stax import Dense, FanOut, Relu, Softplus

RTOL, ATOL = 2e-3, 2e-3
D, HIDDEN, LATENT = 64, 128, 8
batch_size, num_train, num_test = 32, 256, 64


def gaussian_kl(mu, sigmasq):
    return -0.5 * jnp.sum(1. + jnp.log(sigmasq) - mu ** 2. - sigmasq)


def gaussian_sample(rng, mu, sigmasq):
    return mu + jnp.sqrt(sigmasq) * random.normal(rng, mu.shape)


def bernoulli_logpdf(logits, x):
    return -jnp.sum(jnp.logaddexp(0., jnp.where(x, -1., 1.) * logits))


def elbo(rng, params, images):
    enc_params, dec_params = params
    mu_z, sigmasq_z = encode(enc_params, images)
    logits_x = decode(dec_params, gaussian_sample(rng, mu_z, sigmasq_z))
    return bernoulli_logpdf(logits_x, images) - gaussian_kl(mu_z, sigmasq_z)


def image_sample(rng, params, nrow, ncol):
    _, dec_params = params
    code_rng, img_rng = random.split(rng)
    logits = decode(dec_params, random.normal(code_rng, (nrow * ncol, LATENT)))
    return random.bernoulli(img_rng, jnp.logaddexp(0., logits))


encoder_init, encode = stax.serial(
    Dense(HIDDEN), Relu,
    Dense(HIDDEN), Relu,
    FanOut(2),
    stax.parallel(Dense(LATENT), stax.serial(Dense(LATENT), Softplus)),
)

decoder_init, decode = stax.serial(
    Dense(HIDDEN), Relu,
    Dense(HIDDEN), Relu,
    Dense(D),
)


def synthetic_images(n, seed):
    rs = npr.RandomState(seed)
    protos = rs.rand(4, D).astype(np.float32)
    return np.clip(protos[rs.randint(0, 4, n)] + 0.1 * rs.randn(n, D), 0, 1).astype(np.float32)


def setup():
    step_size = 0.001
    test_rng = random.PRNGKey(1)
    train_images, test_images = synthetic_images(num_train, 0), synthetic_images(num_test, 1)
    num_complete_batches, leftover = divmod(train_images.shape[0], batch_size)
    num_batches = num_complete_batches + bool(leftover)

    enc_init_rng, dec_init_rng = random.split(random.PRNGKey(2))
    _, init_encoder_params = encoder_init(enc_init_rng, (batch_size, D))
    _, init_decoder_params = decoder_init(dec_init_rng, (batch_size, LATENT))
    init_params = init_encoder_params, init_decoder_params

    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass=0.9)
    train_images = jax.device_put(train_images)
    test_images = jax.device_put(test_images)

    def binarize_batch(rng, i, images):
        i = i % num_batches
        batch = lax.dynamic_slice_in_dim(images, i * batch_size, batch_size)
        return random.bernoulli(rng, batch)

    @jit
    def run_epoch(rng, opt_state, images):
        def body_fun(i, opt_state):
            elbo_rng, data_rng = random.split(random.fold_in(rng, i))
            batch = binarize_batch(data_rng, i, images)
            loss = lambda params: -elbo(elbo_rng, params, batch) / batch_size  # noqa: E731
            g = grad(loss)(get_params(opt_state))
            return opt_update(i, g, opt_state)
        return lax.fori_loop(0, num_batches, body_fun, opt_state)

    @jit
    def evaluate(opt_state, images):
        params = get_params(opt_state)
        elbo_rng, data_rng, image_rng = random.split(test_rng, 3)
        binarized_test = random.bernoulli(data_rng, images)
        test_elbo = elbo(elbo_rng, params, binarized_test) / images.shape[0]
        sampled_images = image_sample(image_rng, params, 4, 4)
        return test_elbo, sampled_images

    return opt_init(init_params), run_epoch, evaluate, train_images, test_images, get_params


def first_epoch():
    """The training script up to the end of its first epoch (the compile-count case)."""
    opt_state, run_epoch, evaluate, train_images, test_images, get_params = setup()
    opt_state = run_epoch(random.PRNGKey(0), opt_state, train_images)
    test_elbo, sampled_images = evaluate(opt_state, test_images)
    return float(test_elbo), opt_state, (run_epoch, evaluate, train_images, test_images,
                                          get_params)


def main():
    elbo0, opt_state, (run_epoch, evaluate, train_images, test_images, get_params) = \
        first_epoch()
    elbos = [elbo0]
    opt_state = run_epoch(random.PRNGKey(1), opt_state, train_images)
    test_elbo, sampled_images = evaluate(opt_state, test_images)
    elbos.append(float(test_elbo))
    print("epochs:", len(elbos))
    params = get_params(opt_state)
    return {"elbo": elbos,
            "param_sums": [jnp.sum(p) for p in jax.tree_util.tree_leaves(params)],
            "samples_mean": jnp.mean(sampled_images)}
