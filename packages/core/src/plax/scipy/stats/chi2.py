"""The chi-squared distribution with df degrees of freedom: gamma(df / 2) on a scale of 2."""

from __future__ import annotations

from plax.scipy.stats import gamma
from plax.scipy.stats._util import promote


def _args(name, x, df, loc, scale):
    x, df, loc, scale = promote(name, x, df, loc, scale)
    return x, df / 2, loc, scale * 2


def logpdf(x, df, loc=0, scale=1):
    return gamma.logpdf(*_args("chi2.logpdf", x, df, loc, scale))


def pdf(x, df, loc=0, scale=1):
    return gamma.pdf(*_args("chi2.pdf", x, df, loc, scale))


def cdf(x, df, loc=0, scale=1):
    return gamma.cdf(*_args("chi2.cdf", x, df, loc, scale))


def logcdf(x, df, loc=0, scale=1):
    return gamma.logcdf(*_args("chi2.logcdf", x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
    return gamma.sf(*_args("chi2.sf", x, df, loc, scale))


def logsf(x, df, loc=0, scale=1):
    return gamma.logsf(*_args("chi2.logsf", x, df, loc, scale))
