"""How far float32 results may move where the same text is computed in another shape.

Scores and vectors are exact (bit for bit) only like with like: the same batch, the same thread
count, the same kernels. A text batched with others is padded to another length, so its sums run
over other shapes, and the kernels of some CPUs (AVX-512) or of another thread count add them in
another order: 7e-8 of a score was seen. A bug (a pair seeing another's tokens, a padding slot
counted) moves a score by far more.
"""

RTOL = 1e-5
