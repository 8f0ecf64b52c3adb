"""The shipped data kinds: importing this package registers each (`nas.data.registry`)."""

from . import cifar, downsampled, fashion_mnist, folder  # noqa: F401
