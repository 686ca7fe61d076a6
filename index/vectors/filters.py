"""The metadata filters that pin a LlamaIndex query to one shard and a set of scope keys."""

from __future__ import annotations

from collections.abc import Iterable

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilters


def scope_filters(shard: str, allowed_scopes: Iterable[str]) -> MetadataFilters:
    """The MetadataFilters a LlamaIndex retriever passes to read one shard within some scope keys."""
    return MetadataFilters.from_dicts(
        [
            {"key": "shard", "value": shard, "operator": FilterOperator.EQ},
            {"key": "scope", "value": sorted(set(allowed_scopes)), "operator": FilterOperator.IN},
        ]
    )


def scope_of_filters(filters: MetadataFilters | None) -> tuple[str, set[str]]:
    """The (shard, scope keys) a query's filters allow; refuses filters that would not pin both down."""
    if filters is None:
        raise ValueError("a query must filter by shard (or guild) and scope")
    if filters.condition not in (None, FilterCondition.AND):
        raise ValueError("scope filters must be combined with AND")
    shards: set[str] = set()
    scopes: set[str] | None = None
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            raise ValueError("nested metadata filters are not supported")
        values = item.value if isinstance(item.value, list) else [item.value]
        if item.key in ("shard", "guild") and item.operator == FilterOperator.EQ:
            shards.add(str(item.value))
        elif item.key == "scope" and item.operator in (FilterOperator.EQ, FilterOperator.IN):
            allowed = {str(v) for v in values}
            scopes = allowed if scopes is None else scopes & allowed
        else:
            raise ValueError(f"unsupported filter: {item.key} {item.operator.value}")
    if len(shards) != 1 or scopes is None:
        raise ValueError("a query must filter by exactly one shard (or guild) and by scope")
    return shards.pop(), scopes
