"""SMPLify's population pose prior, ``gmm_08.pkl`` (docs/annotate.md "Population pose prior"):
a mixture of Gaussians over the 69 axis-angle values of the 23 body joints (SMPL order,
joints 1..23; the root is not in it), learned from motion capture by the SMPLify authors and
distributed with SMPLify / SPIN under the SMPLify license (users bring the file).

The file is a Python-2 pickle (protocol 2) of a dict ``{'means': (G, 69), 'covars':
(G, 69, 69), 'weights': (G,)}`` of NumPy arrays. It is read with the restricted unpickler
(:mod:`cliff.io.unpickle`), never ``pickle.load``: pure and bounded (docs/security.md).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import pickle_writer as pw
from .budget import BudgetError, Meter, guarded
from .unpickle import UnsafePickleError, restricted_load

__all__ = ["PosePrior", "load_pose_prior", "save_pose_prior"]

#: The prior's dimension: 23 body joints x 3 axis-angle values.
DIM = 69
#: Most components accepted (gmm_08.pkl has 8; the core takes up to 64).
MAX_COMPONENTS = 64

_WHAT = ("a pose prior pickle (SMPLify's gmm_08.pkl) holding a dict with 'means' (G, 69), "
         "'covars' (G, 69, 69), 'weights' (G,)")


@dataclass(frozen=True)
class PosePrior:
    """A max-mixture pose prior: means (G,69) radians, covars (G,69,69) radians^2 (symmetric
    positive definite), weights (G,) > 0; float64, validated on construction (ValueError).

    Its cost, as the fitter adds it (w_gmm times; -2 log of the density up to a constant, like
    the fitter's other terms): ``min_k (a - mu_k)^T covars_k^-1 (a - mu_k) + const_k`` with
    ``const_k = log det covars_k - 2 log weights_k`` (:meth:`cost`)."""
    means: np.ndarray
    covars: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        m = _floats(self.means, "means")
        c = _floats(self.covars, "covars")
        w = _floats(self.weights, "weights")
        G = m.shape[0] if m.ndim == 2 else -1
        if m.ndim != 2 or m.shape[1] != DIM or not 1 <= G <= MAX_COMPONENTS:
            raise ValueError(f"means: expected shape (G, {DIM}) with 1 <= G <= {MAX_COMPONENTS} "
                             f"(23 body joints x 3 axis-angle values), got {m.shape}")
        if c.shape != (G, DIM, DIM):
            raise ValueError(f"covars: expected shape ({G}, {DIM}, {DIM}), got {c.shape}")
        if w.shape != (G,):
            raise ValueError(f"weights: expected shape ({G},), got {w.shape}")
        if not (w > 0).all():
            raise ValueError(f"weights: expected positive mixture weights, got {w}")
        if not np.allclose(c, np.swapaxes(c, 1, 2), rtol=1e-6, atol=1e-12):
            raise ValueError("covars: expected symmetric matrices")
        chol = []
        for k in range(G):
            try:
                # precision = covars^-1 = L L^T  <=>  covars = L^-T L^-1
                prec = np.linalg.inv(c[k])
                prec = 0.5 * (prec + prec.T)
                chol.append(np.linalg.cholesky(prec))
            except np.linalg.LinAlgError:
                raise ValueError(f"covars[{k}]: not positive definite") from None
        L = np.ascontiguousarray(np.stack(chol))
        if not np.isfinite(L).all() or not (np.diagonal(L, axis1=1, axis2=2) > 0).all():
            raise ValueError("covars: not positive definite (precision has no Cholesky factor)")
        logdet = np.array([np.linalg.slogdet(ck) for ck in c])
        if not (logdet[:, 0] > 0).all():
            raise ValueError("covars: not positive definite (determinant <= 0)")
        const = logdet[:, 1] - 2.0 * np.log(w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "covars", c)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "_core", (m, L, np.ascontiguousarray(const)))

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    def core_arrays(self) -> tuple:
        """(means (G,69), prec_chol (G,69,69) lower L_k with L_k L_k^T = covars_k^-1,
        const (G,)): the fitter's arrays (cliff_fit_options.gmm_*)."""
        return self._core  # type: ignore[attr-defined]

    def cost(self, body_pose) -> np.ndarray:
        """The max-mixture cost (n,) of body_pose (n, 69) axis-angle radians (joints 1..23):
        min_k |L_k^T (a - mu_k)|^2 + const_k."""
        a = np.asarray(body_pose, np.float64).reshape(-1, DIM)
        m, L, c = self._core  # type: ignore[attr-defined]
        y = np.einsum("kij,nki->nkj", L, a[:, None, :] - m[None])
        return ((y ** 2).sum(-1) + c[None]).min(1)


def _floats(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def load_pose_prior(path: Any) -> PosePrior:
    """Read SMPLify's ``gmm_08.pkl`` (or any pickle of that layout, G <= 64 components):
    a :class:`PosePrior`.

    Raises TypeError if ``path`` is not a path; FileNotFoundError / OSError if it cannot be
    opened; ValueError naming the path and the problem (not a pickle, a refused class
    (UnsafePickleError), too big (BudgetError), a missing key, wrong shapes, NaN, non-positive
    weights, covariances that are not symmetric positive definite)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a pose prior file path (gmm_08.pkl), got "
                        f"{type(path).__name__}")
    return guarded(path, _WHAT, _load, path)


def _load(path: Any) -> PosePrior:
    where = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError(f"{where!s}: the file is empty; expected {_WHAT}")
    try:
        raw = restricted_load(data, meter=Meter(path, len(data)))
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{where!s}: {exc}; expected {_WHAT}") from None
    except BudgetError as exc:
        raise BudgetError(f"{where!s}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where!s}: not a readable pickle ({str(exc)[:200]}); expected "
                         f"{_WHAT}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{where!s}: the pickle holds a {type(raw).__name__}; expected {_WHAT}")
    keys = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw.items()}
    for key in ("means", "covars", "weights"):
        if key not in keys:
            raise ValueError(f"{where!s}: missing key {key!r}; expected {_WHAT}")
        if not isinstance(keys[key], np.ndarray):
            raise ValueError(f"{where!s}: {key!r} is a {type(keys[key]).__name__}, expected a "
                             "NumPy array")
    try:
        return PosePrior(keys["means"], keys["covars"], keys["weights"])
    except ValueError as exc:
        raise ValueError(f"{where!s}: {exc}") from None


def save_pose_prior(path: Any, prior: PosePrior) -> None:
    """Write ``prior`` as gmm_08.pkl is laid out: a Python-2 (protocol 2) pickle of the dict
    {'means', 'covars', 'weights'} of float64 NumPy arrays (numpy.core names, raw-bytes
    array states), readable by :func:`load_pose_prior` and by SMPLify/SPIN's loaders."""
    if not isinstance(prior, PosePrior):
        raise TypeError(f"prior: expected a PosePrior, got {type(prior).__name__}")
    buf = io.BytesIO()
    pw.dump({"means": pw.ndarray_node(prior.means, py2=True),
             "covars": pw.ndarray_node(prior.covars, py2=True),
             "weights": pw.ndarray_node(prior.weights, py2=True)}, buf, py2=True)
    from .atomic import write_atomic
    write_atomic(path, lambda f: f.write(buf.getvalue()))


def gaussian_prior(std, mean=None) -> PosePrior:
    """One-component prior with independent values: std (69,) radians (> 0), mean (69,) or 0."""
    s = np.broadcast_to(np.asarray(std, np.float64), (DIM,))
    m = np.zeros(DIM) if mean is None else np.broadcast_to(np.asarray(mean, np.float64), (DIM,))
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise ValueError("std: expected finite values > 0")
    return PosePrior(m[None].copy(), np.diag(s ** 2)[None], np.ones(1))


