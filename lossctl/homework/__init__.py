"""Checking answers and teaching: --expect verdicts, compare, plot curves.

Built on lossctl.evaluation; knows nothing about the terminal.  See docs/architecture.md.
"""
