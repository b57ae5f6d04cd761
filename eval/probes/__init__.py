"""Finished research probes: one-off measurements kept runnable, findings in eval/README.md."""
