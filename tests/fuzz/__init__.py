"""Hostile inputs (``hostile.py``, shared by the reliability tests) and the on-demand fuzzer
(``fuzz_inputs.py``; not a pytest module: run it with ``python tests/fuzz/fuzz_inputs.py``)."""
