"""Data on demand: ``arena data get NAME`` downloads a benchmark's upstream files and converts them.

``catalogue``: where each source's files are and what is known about them; ``download``: resumable,
verified HTTP downloads; ``get``: download + unpack + convert, or copy already converted blackboxes from
another repository root (``--from hf://datasets/ORG/REPO``); ``cli``: the ``arena data`` commands.
"""
