"""Gaussian kernel density estimation (as jax.scipy.stats.gaussian_kde): a pytree holding the
weighted data set and its bandwidth-scaled covariance, with evaluate/pdf/logpdf, the
integrals against a Gaussian, a 1-D box and another estimate, and resampling."""

from __future__ import annotations

import math

import numpy as np

from plax import numpy as pnp
from plax._src import dtypes
from plax._src.numpy.util import check_arraylike, promote_dtypes_inexact
from plax.tree_util import register_pytree_node_class


@register_pytree_node_class
class gaussian_kde:
    """A Gaussian kernel density estimate of `dataset` (d x n, or n points in 1-D) with
    optional `weights`; bw_method is 'scott' (default), 'silverman', a scalar factor or a
    callable of the estimate returning one."""

    __slots__ = ("neff", "dataset", "weights", "covariance", "inv_cov")

    def __init__(self, dataset, bw_method=None, weights=None):
        check_arraylike("gaussian_kde", dataset)
        dataset = pnp.atleast_2d(dataset)
        if dtypes.is_complex(dataset.dtype):
            raise NotImplementedError("gaussian_kde does not support complex data")
        if not dataset.size > 1:
            raise ValueError("`dataset` input should have multiple elements.")
        d, n = dataset.shape
        if weights is None:
            dataset, = promote_dtypes_inexact(dataset)
            weights = pnp.full(n, 1.0 / n, dtype=dataset.dtype)
        else:
            check_arraylike("gaussian_kde", weights)
            dataset, weights = promote_dtypes_inexact(dataset, weights)
            weights = pnp.atleast_1d(weights)
            if weights.ndim != 1:
                raise ValueError("`weights` input should be one-dimensional.")
            if weights.shape[0] != n:
                raise ValueError("`weights` input should be of length n")
            weights = weights / pnp.sum(weights)
        neff = 1 / pnp.sum(weights ** 2)
        if bw_method is None or (isinstance(bw_method, str) and bw_method == "scott"):
            factor = pnp.power(neff, -1.0 / (d + 4))
        elif isinstance(bw_method, str) and bw_method == "silverman":
            factor = pnp.power(neff * (d + 2) / 4.0, -1.0 / (d + 4))
        elif pnp.isscalar(bw_method) and not isinstance(bw_method, str):
            factor = bw_method
        elif callable(bw_method):
            self._set(neff, dataset, weights, None, None)
            factor = bw_method(self)
        else:
            raise ValueError("`bw_method` should be 'scott', 'silverman', a scalar, or a "
                             "callable.")
        cov = pnp.atleast_2d(pnp.cov(dataset, rowvar=True, bias=False, aweights=weights))
        self._set(neff, dataset, weights, cov * factor ** 2,
                  pnp.linalg.inv(cov) / factor ** 2)

    def _set(self, neff, dataset, weights, covariance, inv_cov):
        for name, v in zip(self.__slots__, (neff, dataset, weights, covariance, inv_cov)):
            object.__setattr__(self, name, v)

    def tree_flatten(self):
        return (self.neff, self.dataset, self.weights, self.covariance, self.inv_cov), None

    @classmethod
    def tree_unflatten(cls, aux_data, children):
        kde = cls.__new__(cls)
        kde._set(*children)
        return kde

    @property
    def d(self) -> int:
        return self.dataset.shape[0]

    @property
    def n(self) -> int:
        return self.dataset.shape[1]

    def _points(self, points):
        check_arraylike("gaussian_kde", points)
        points = pnp.atleast_2d(points)
        if dtypes.is_complex(points.dtype):
            raise NotImplementedError("gaussian_kde does not support complex coordinates")
        d, m = points.shape
        if d != self.d:
            if d == 1 and m == self.d:
                return pnp.reshape(points, (self.d, 1))
            raise ValueError(f"points have dimension {d}, dataset has dimension {self.d}")
        return points

    def _kernel_sums(self, points, in_log: bool):
        """sum_i w_i N(x; data_i, covariance) at each point (its log with in_log), in the
        coordinates whitened by the Cholesky factor of inv_cov."""
        from plax.scipy.special import logsumexp
        data, w, xi, prec = promote_dtypes_inexact(self.dataset.T, self.weights,
                                                   self._points(points).T, self.inv_cov)
        white = pnp.linalg.cholesky(prec)
        data, xi = data @ white, xi @ white
        log_norm = pnp.sum(pnp.log(pnp.diagonal(white))) - 0.5 * self.d * math.log(2 * math.pi)
        sq = pnp.sum((xi[:, None, :] - data[None, :, :]) ** 2, axis=-1)  # (m, n)
        arg = log_norm - 0.5 * sq
        if in_log:
            return logsumexp(pnp.log(w)[None, :] + arg, axis=1)
        return pnp.sum(w[None, :] * pnp.exp(arg), axis=1)

    def evaluate(self, points):
        """The density at each of the points (d x m)."""
        return self._kernel_sums(points, False)

    __call__ = pdf = evaluate

    def logpdf(self, x):
        """The log density at each of the points (d x m), by a log-sum-exp."""
        return self._kernel_sums(x, True)

    def _convolve(self, cho, norm, target, weights, mean):
        from plax.scipy.linalg import cho_solve
        diff = target - mean[:, None]
        arg = 0.5 * pnp.sum(diff * cho_solve(cho, diff), axis=0)
        return norm * pnp.sum(pnp.exp(-arg) * weights)

    def _cho(self, cov):
        from plax.scipy.linalg import cho_factor
        cho = cho_factor(self.covariance + cov)
        norm = 1.0 / (math.sqrt(2 * math.pi) ** self.d * pnp.prod(pnp.diagonal(cho[0])))
        return cho, norm

    def integrate_gaussian(self, mean, cov):
        """The integral of the estimate times the Gaussian N(mean, cov)."""
        mean = pnp.atleast_1d(pnp.squeeze(mean))
        cov = pnp.atleast_2d(cov)
        if mean.shape != (self.d,):
            raise ValueError(f"mean does not have dimension {self.d}")
        if cov.shape != (self.d, self.d):
            raise ValueError(f"covariance does not have dimension {self.d}")
        cho, norm = self._cho(cov)
        return self._convolve(cho, norm, self.dataset, self.weights, mean)

    def integrate_box_1d(self, low, high):
        """The mass of a 1-D estimate between the scalars low and high."""
        from plax.scipy.special import ndtr
        if self.d != 1:
            raise ValueError("integrate_box_1d() only handles 1D pdfs")
        if np.ndim(low) != 0 or np.ndim(high) != 0:
            raise ValueError("the limits of integration in integrate_box_1d must be scalars")
        sigma = pnp.squeeze(pnp.sqrt(self.covariance))
        lo = pnp.squeeze((low - self.dataset) / sigma)
        hi = pnp.squeeze((high - self.dataset) / sigma)
        return pnp.sum(self.weights * (ndtr(hi) - ndtr(lo)))

    def integrate_kde(self, other):
        """The integral of the product of two estimates of one dimensionality."""
        from plax import vmap
        if other.d != self.d:
            raise ValueError("KDEs are not the same dimensionality")
        cho, norm = self._cho(other.covariance)
        small, large = (self, other) if self.n < other.n else (other, self)
        per_point = vmap(lambda m: self._convolve(cho, norm, large.dataset, large.weights, m),
                         in_axes=1)(small.dataset)
        return pnp.sum(per_point * small.weights)

    def resample(self, key, shape=()):
        """Points drawn from the estimate: shape (d, *shape)."""
        from plax import random
        ind_key, eps_key = random.split(key)
        ind = random.choice(ind_key, self.n, shape=shape, p=self.weights)
        eps = random.multivariate_normal(eps_key, pnp.zeros(self.d, self.covariance.dtype),
                                         self.covariance, shape=shape,
                                         dtype=self.dataset.dtype).T
        return self.dataset[:, ind] + eps

    def integrate_box(self, low_bounds, high_bounds, maxpts=None):
        raise NotImplementedError("only 1D box integrations are supported; use "
                                  "`integrate_box_1d`")

    def set_bandwidth(self, bw_method=None):
        raise NotImplementedError("dynamically changing the bandwidth method is not supported")
