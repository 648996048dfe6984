"""The local world wired together: the TPU API emulator, localslack and the real bot.

Used by `tpu-bot demo`, the tests, the benchmarks and the scripts alike (never by the product).
"""
