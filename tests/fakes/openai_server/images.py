"""The image endpoints: generations, edits, variations, and the generated-image URLs."""

from __future__ import annotations

import base64
import io
import re
import time
from typing import Any

from PIL import Image

from .errors import _ApiError, _int_param, _invalid, _missing
from .helpers import GPT_IMAGE_MIME_TYPES, count_tokens, make_png
from .recorded import RecordedRequest, UploadedFile
from .transport import _HandlerBase


def _parse_size(size: Any, default: tuple[int, int] = (1024, 1024)) -> tuple[int, int]:
    if size in (None, "auto"):
        return default
    match = re.fullmatch(r"(\d+)x(\d+)", str(size))
    if not match:
        raise _invalid("size", size, "Expected a size like '1024x1024' or 'auto'.")
    return int(match.group(1)), int(match.group(2))


class _ImagesMixin(_HandlerBase):
    """Serves `POST /images/*` and `GET /_fake/images/<id>.png`."""

    def _serve_stored_image(self, image_id: str) -> None:
        data = self.fake._stored_image(image_id)
        if data is None:
            self._send_bytes(404, b"not found", "text/plain")
        else:
            self._send_bytes(200, data, "image/png")

    def _scaled(self, size: tuple[int, int]) -> tuple[int, int]:
        scale = self.fake.image_scale
        return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))

    def _images_response(
        self,
        model: str,
        prompt: str,
        n: int,
        size: tuple[int, int],
        response_format: Any,
        input_images: int = 0,
    ) -> dict[str, Any]:
        fake = self.fake
        gpt_image = not model.startswith("dall-e")
        if response_format not in (None, "url", "b64_json"):
            raise _invalid("response_format", response_format, "Expected 'url' or 'b64_json'.")
        as_url = not gpt_image and response_format != "b64_json"
        data = []
        for index in range(n):
            png = make_png(*size, seed=f"{model}|{prompt}|{index}")
            entry: dict[str, Any] = {}
            if as_url:
                entry["url"] = f"{fake.url}/_fake/images/{fake._store_image(png)}.png"
            else:
                entry["b64_json"] = base64.b64encode(png).decode("ascii")
            if model == "dall-e-3":
                entry["revised_prompt"] = f"A detailed, vivid rendering of: {prompt}"
            data.append(entry)
        answer: dict[str, Any] = {"created": int(time.time()), "data": data}
        if gpt_image:
            text_tokens = count_tokens(prompt)
            image_tokens = 65 * input_images
            answer.update(
                background="opaque",
                output_format="png",
                quality="low",
                size=f"{size[0]}x{size[1]}",
                usage={
                    "input_tokens": text_tokens + image_tokens,
                    "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
                    "output_tokens": 272 * n,
                    "total_tokens": text_tokens + image_tokens + 272 * n,
                },
            )
        return answer

    def _image_generations(self, request: RecordedRequest) -> None:
        body = self._json_body(request)
        model = self._require_model(body.get("model", "gpt-image-1"), "image", "image generation")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise _missing("prompt")
        n = _int_param(body.get("n"), "n", 1, 1, 10)
        if model == "dall-e-3" and n != 1:
            raise _ApiError(400, "You must provide n=1 for this model.", param="n", code="invalid_value")
        size = self._scaled(_parse_size(body.get("size")))
        self._send_json(self._images_response(model, prompt, n, size, body.get("response_format")))

    def _check_image_file(self, upload: UploadedFile, model: str, index: int) -> tuple[int, int] | None:
        if not self.fake.validate_images:
            return None
        if model.startswith("gpt-image") and upload.content_type not in GPT_IMAGE_MIME_TYPES:
            raise _ApiError(
                400,
                f"Invalid file '{upload.field}': unsupported mimetype ('{upload.content_type}'). "
                "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                param=upload.field,
                code="unsupported_file_mimetype",
            )
        try:
            with Image.open(io.BytesIO(upload.data)) as image:
                return image.size
        except Exception:
            raise _ApiError(
                400,
                f"Invalid image file or mode for image {index}, please check your image file.",
                param=upload.field,
                code="invalid_image_format",
            ) from None

    def _image_edits(self, request: RecordedRequest) -> None:
        form = request.form
        model = self._require_model(form.get("model", "gpt-image-1"), "image", "image edits")
        images = request.files_named("image")
        if not images:
            raise _missing("image")
        prompt = form.get("prompt")
        if not prompt:
            raise _missing("prompt")
        sizes = [self._check_image_file(upload, model, i + 1) for i, upload in enumerate(images)]
        mask = request.file("mask")
        if mask is not None:
            mask_size = self._check_image_file(mask, model, 0)
            if mask_size is not None and sizes[0] is not None and mask_size != sizes[0]:
                raise _ApiError(
                    400,
                    "Invalid mask image: the mask and the image must have the same dimensions.",
                    param="mask",
                    code="invalid_image_format",
                )
        n = _int_param(form.get("n"), "n", 1, 1, 10)
        size = self._edit_size(form.get("size"), sizes[0])
        self._send_json(
            self._images_response(model, prompt, n, size, form.get("response_format"), len(images))
        )

    def _image_variations(self, request: RecordedRequest) -> None:
        form = request.form
        model = self._require_model(form.get("model", "dall-e-2"), "image", "image variations")
        image = request.file("image")
        if image is None:
            raise _missing("image")
        source_size = self._check_image_file(image, model, 1)
        n = _int_param(form.get("n"), "n", 1, 1, 10)
        size = self._edit_size(form.get("size"), source_size)
        self._send_json(self._images_response(model, "variation", n, size, form.get("response_format"), 1))

    def _edit_size(self, size: str | None, source: tuple[int, int] | None) -> tuple[int, int]:
        # Without an explicit size the edit keeps the source image's own size (unscaled).
        if size in (None, "auto") and source is not None:
            return source
        return self._scaled(_parse_size(size))
