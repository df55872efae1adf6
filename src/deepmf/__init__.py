"""deepmf: Deep Matrix Factorization (Xue et al., IJCAI-17) and its baselines, reproducibly."""

__version__ = "0.1.0"
