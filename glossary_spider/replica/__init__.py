"""The bundled replica of the glossary site, for tests, the demo and benchmarks."""

from glossary_spider.replica.site import ReplicaSite

__all__ = ["ReplicaSite"]
