"""A template venue: copy this folder to ``connectors/<exchange>/`` and fill it in.

It is a complete, working venue for a fictional exchange "template" whose
protocol is the simplest possible (one JSON object per message, an explicit
``closed`` flag on klines), so the framework's contract tests run over it too.
"""
