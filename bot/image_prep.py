"""Image models' sizes and the Pillow work: reading and preparing inputs, grids, fitting uploads.

CPU work: the ImageService (bot/images.py) calls these in threads."""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from bot.errors import UserError
from bot.i18n import Msg

SIZE_NAMES = ("square", "portrait", "landscape")
MAX_COUNT = 4
MAX_INPUT_BYTES = 25 * 1024 * 1024
# Pillow only warns below ~179 MP; 64 MP is already far more than any model takes.
MAX_INPUT_PIXELS = 64_000_000
GRID_GAP = 8
GRID_MAX_SIDE = 1024
GRID_BACKGROUND = (32, 34, 37, 255)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UPLOAD_MARGIN = 0.97  # multipart headers and the message body share the request with the files


@dataclass(frozen=True, slots=True)
class ImageModel:
    """What an image model accepts: sizes per name, qualities, edits, variations, input limits."""

    name: str
    sizes: Mapping[str, str]
    qualities: Mapping[str, str] = field(default_factory=dict)
    edits: bool | None = None  # None: unknown (a compatible server); we try and explain a refusal
    variations: bool = False
    max_input_bytes: int = 50 * 1024 * 1024
    square_input: bool = False
    max_prompt: int = 32000

    @property
    def can_vary(self) -> bool:
        """Whether a Vary button makes sense for this model."""
        return bool(self.edits or self.variations)

    def size(self, name: str) -> str:
        """The model size for a size name (square if unknown)."""
        return self.sizes.get(name, self.sizes["square"])

    def quality(self, name: str | None) -> str | None:
        """The model's quality value for a quality name, or None to leave it to the model."""
        return self.qualities.get(name) if name else None

    def closest_size(self, width: int, height: int) -> str:
        """The model size whose shape is closest to width × height."""
        ratio = math.log(width / height)
        return min(self.sizes.values(), key=lambda s: abs(math.log(_dims(s)[0] / _dims(s)[1]) - ratio))


GPT_IMAGE = ImageModel(
    "gpt-image",
    {"square": "1024x1024", "portrait": "1024x1536", "landscape": "1536x1024"},
    {"low": "low", "medium": "medium", "high": "high"},
    edits=True,
)
DALL_E_3 = ImageModel(
    "dall-e-3",
    {"square": "1024x1024", "portrait": "1024x1792", "landscape": "1792x1024"},
    {"low": "standard", "medium": "standard", "high": "hd"},
    edits=False,
    max_prompt=4000,
)
DALL_E_2 = ImageModel(
    "dall-e-2",
    {"square": "1024x1024", "portrait": "1024x1024", "landscape": "1024x1024"},
    edits=True,
    variations=True,
    max_input_bytes=4 * 1024 * 1024,
    square_input=True,
    max_prompt=1000,
)
OTHER = ImageModel("other", {"square": "1024x1024", "portrait": "768x1024", "landscape": "1024x768"})


def image_model(name: str) -> ImageModel:
    """The capabilities of a configured IMAGE_MODEL (a sensible default for unknown ones)."""
    if name.startswith("gpt-image") or name.startswith("chatgpt-image"):
        return GPT_IMAGE
    if name.startswith("dall-e-3"):
        return DALL_E_3
    if name.startswith("dall-e-2"):
        return DALL_E_2
    return OTHER


def _dims(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


# --- reading images -------------------------------------------------------------------------


def _too_large(what: str) -> UserError:
    return UserError(
        "The {what} is too large to work with: keep it under {mb} MB and {mp} megapixels.",
        kind="image_too_large",
        params={
            "what": Msg(what), "mb": MAX_INPUT_BYTES // (1024 * 1024), "mp": MAX_INPUT_PIXELS // 1_000_000
        },
    )


def open_image(data: bytes, *, what: str = "image", hint: tuple[int, int] | None = None) -> Image.Image:
    """Decode PNG, JPEG, WebP, GIF (first frame), … to an upright RGBA image, refusing bombs."""
    if len(data) > MAX_INPUT_BYTES:
        raise _too_large(what)
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only; Pillow refuses the worst bombs here
        if image.width * image.height > MAX_INPUT_PIXELS:
            raise _too_large(what)
        if hint and image.format == "JPEG":
            image.draft("RGB", hint)  # decode a huge JPEG at a fraction of its size: far less memory
        image.load()
        return ImageOps.exif_transpose(image).convert("RGBA")
    except UnidentifiedImageError:
        raise UserError(
            "The {what} isn't an image I can read: use a PNG, JPEG, WebP or GIF file.",
            kind="not_image",
            params={"what": Msg(what)},
        ) from None
    except Image.DecompressionBombError:
        raise _too_large(what) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise UserError(
            "The {what} looks damaged (it doesn't decode completely). Export it again and retry.",
            kind="corrupt_image",
            params={"what": Msg(what)},
        ) from None


def encode_png(image: Image.Image, *, optimize: bool = False) -> bytes:
    """PNG bytes of an image."""
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=optimize)
    return out.getvalue()


def _fit(image: Image.Image, box: tuple[int, int], square: bool) -> Image.Image:
    if square and image.width != image.height:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    fitted = image.copy()
    fitted.thumbnail(box, Image.Resampling.LANCZOS)  # never enlarges
    return fitted


@dataclass(frozen=True, slots=True)
class PreparedEdit:
    """An image (and mask) ready for the model's edit or variation endpoint."""

    image_png: bytes
    mask_png: bytes | None
    size: str
    width: int
    height: int


def prepare_edit(image_data: bytes, mask_data: bytes | None, model: ImageModel) -> PreparedEdit:
    """Convert an upload (and its mask) to RGBA PNGs of a shape and byte size the model accepts."""
    largest = max(max(_dims(s)) for s in model.sizes.values())
    image = open_image(image_data, hint=(largest, largest))
    mask = None
    if mask_data is not None:
        mask = open_image(mask_data, what="mask").resize(image.size, Image.Resampling.LANCZOS)
        low, _ = mask.getchannel("A").getextrema()
        if low == 255:
            raise UserError(
                "The mask needs transparent areas where the edit should go: upload a PNG (or WebP) with "
                "an alpha channel, fully transparent where things change and opaque where they stay.",
                kind="bad_mask",
            )
    size = model.closest_size(*image.size)
    box = _dims(size)
    while True:
        fitted = _fit(image, box, model.square_input)
        png = encode_png(fitted)
        if len(png) <= model.max_input_bytes or max(box) <= 64:
            break
        box = (int(box[0] * 0.8), int(box[1] * 0.8))
    mask_png = encode_png(_fit(mask, box, model.square_input)) if mask is not None else None
    return PreparedEdit(png, mask_png, size, fitted.width, fitted.height)


# --- results --------------------------------------------------------------------------------


def to_png(data: bytes) -> bytes:
    """The provider's image as PNG bytes (some answer in WebP or JPEG)."""
    return data if data.startswith(PNG_SIGNATURE) else encode_png(open_image(data, what="generated image"))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow built without FreeType has only the small bitmap font
        return ImageFont.load_default()


def grid_size(count: int, width: int, height: int) -> tuple[int, int, int, int]:
    """Columns, rows and cell size of the preview grid for `count` images of width × height."""
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    scale = min(1.0, (GRID_MAX_SIDE - GRID_GAP * (columns + 1)) / (columns * width))
    scale = min(scale, (GRID_MAX_SIDE - GRID_GAP * (rows + 1)) / (rows * height))
    return columns, rows, max(1, int(width * scale)), max(1, int(height * scale))


def make_grid(pngs: Sequence[bytes]) -> bytes:
    """One numbered preview of several images, in a grid."""
    images = [Image.open(io.BytesIO(p)).convert("RGBA") for p in pngs]
    width, height = max(i.width for i in images), max(i.height for i in images)
    columns, rows, cell_w, cell_h = grid_size(len(images), width, height)
    grid = Image.new(
        "RGBA",
        (columns * cell_w + GRID_GAP * (columns + 1), rows * cell_h + GRID_GAP * (rows + 1)),
        GRID_BACKGROUND,
    )
    draw = ImageDraw.Draw(grid)
    font = _font(max(10, cell_h // 8))
    for number, image in enumerate(images, start=1):
        image.thumbnail((cell_w, cell_h), Image.Resampling.LANCZOS)
        column, row = (number - 1) % columns, (number - 1) // columns
        x = GRID_GAP + column * (cell_w + GRID_GAP)
        y = GRID_GAP + row * (cell_h + GRID_GAP)
        grid.alpha_composite(image, (x + (cell_w - image.width) // 2, y + (cell_h - image.height) // 2))
        box = draw.textbbox((0, 0), str(number), font=font)
        pad = max(2, cell_h // 40)
        badge = (x + pad, y + pad, x + pad * 3 + box[2] - box[0], y + pad * 3 + box[3] - box[1])
        draw.rectangle(badge, fill=(0, 0, 0, 180))
        draw.text((badge[0] + pad - box[0], badge[1] + pad - box[1]), str(number), fill="white", font=font)
    return encode_png(grid, optimize=True)


def fit_png(data: bytes, max_bytes: int) -> bytes:
    """The PNG re-encoded, then downscaled (past half size also in 256 colours) until it fits `max_bytes`."""
    if len(data) <= max_bytes:
        return data
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    scale, smaller = 1.0, encode_png(image, optimize=True)
    while len(smaller) > max_bytes and max(image.size) * scale > 16:
        scale *= max(0.5, min(0.9, math.sqrt(max_bytes / len(smaller)) * 0.95))
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resized: Image.Image = image.resize(size, Image.Resampling.LANCZOS)
        if scale < 0.5:  # by then fewer colours cost less detail than fewer pixels
            resized = resized.quantize(256, method=Image.Quantize.FASTOCTREE)
        smaller = encode_png(resized, optimize=True)
    return smaller


def fit_files(files: Sequence[tuple[str, bytes]], limit: int) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Named PNGs whose total fits an upload limit: the largest are shrunk, none is dropped."""
    budget = int(limit * UPLOAD_MARGIN)
    if sum(len(d) for _, d in files) <= budget:
        return list(files), []
    fitted: dict[str, bytes] = {}
    remaining = budget
    by_size = sorted(files, key=lambda f: len(f[1]))
    for i, (name, data) in enumerate(by_size):
        share = remaining // (len(by_size) - i)
        fitted[name] = fit_png(data, share)
        remaining -= len(fitted[name])
    shrunk = [name for name, data in files if fitted[name] is not data]
    note = (
        f"Compressed {', '.join(shrunk)} to fit this channel's {limit / (1024 * 1024):.1f} MB upload limit."
    )
    return [(name, fitted[name]) for name, _ in files], [note]
