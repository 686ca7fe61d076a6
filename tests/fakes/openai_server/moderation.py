"""The moderation endpoint: flags inputs containing the fake's `flag_word`."""

from __future__ import annotations

from .errors import _invalid, _missing
from .helpers import MODERATION_CATEGORIES, message_text
from .recorded import RecordedRequest
from .transport import _HandlerBase


class _ModerationMixin(_HandlerBase):
    """Serves `POST /moderations`."""

    def _moderations(self, request: RecordedRequest) -> None:
        fake = self.fake
        body = self._json_body(request)
        model = body.get("model")
        model = (
            "omni-moderation-latest"
            if model is None
            else self._require_model(model, "moderation", "moderations")
        )
        raw = body.get("input")
        if raw is None:
            raise _missing("input")
        if isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            texts = list(raw)
        elif isinstance(raw, list):
            texts = [message_text(raw)]
        else:
            raise _invalid("input", raw)
        results = []
        for text in texts:
            flagged = bool(fake.flag_word) and fake.flag_word in text
            hit = {c: flagged and c in fake.flag_categories for c in MODERATION_CATEGORIES}
            results.append(
                {
                    "flagged": flagged,
                    "categories": hit,
                    "category_scores": {c: 0.98 if hit[c] else 0.0001 for c in MODERATION_CATEGORIES},
                    "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
                }
            )
        self._send_json({"id": fake._next_id("modr"), "model": model, "results": results})
