"""Weight sharing over a search space: one training, every architecture of the space ranked
with inherited weights (issue 20; Once-for-All, BigNAS, AutoFormer)."""

from .net import Supernet, SupernetShape, check_in_space

__all__ = ["Supernet", "SupernetShape", "check_in_space"]
