"""An uploaded logo made safe to serve: only PNG, JPEG or WebP that Pillow decodes whole, within
a size in bytes and pixels checked before anything is decompressed, re-encoded as a PNG with no
metadata (no EXIF location, no comments, no colour profile: the pixels are converted to sRGB
first) and at most `MAX_SIDE_SHOWN` pixels on its longer side.

Pure: no I/O beyond decoding the bytes it is given.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from amends.errors import AmendsError, PayloadTooLarge, ValidationFailed

# Pillow's format names for the media types accepted. SVG is not an image Pillow reads and can
# carry scripts; GIF, TIFF, BMP and ICO have no use for a logo and a long history of decoder
# bugs, so they are refused too.
ACCEPTED = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
MAX_BYTES = 512 * 1024
MAX_SIDE = 2048
MAX_SIDE_SHOWN = 512


class LogoTypeNotSupported(AmendsError):
    status, code, title = 415, "logo_type_not_supported", "A logo is a PNG, JPEG or WebP image"


class LogoTooLarge(PayloadTooLarge):
    code, title = "logo_too_large", "The logo file is too large"


class LogoTooManyPixels(ValidationFailed):
    code, title = "logo_too_many_pixels", "The logo has too many pixels"


class LogoUnreadable(ValidationFailed):
    code, title = "logo_unreadable", "The logo is not a complete image of its type"


@dataclass(frozen=True, slots=True)
class PreparedLogo:
    png: bytes
    sha256: str
    width: int
    height: int


def media_type(content_type: str | None) -> str:
    """`image/PNG; charset=x` -> `image/png`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_type(content_type: str | None) -> str:
    """Pillow's format name for an accepted `Content-Type`, else LogoTypeNotSupported."""
    kind = media_type(content_type)
    if kind not in ACCEPTED:
        raise LogoTypeNotSupported(
            f"Send the logo as the raw body with Content-Type image/png, image/jpeg or "
            f"image/webp (got {kind or 'none'}); SVG is not accepted.",
            accepted=sorted(ACCEPTED))
    return ACCEPTED[kind]


def too_large() -> LogoTooLarge:
    return LogoTooLarge(f"A logo is at most {MAX_BYTES // 1024} KB.", limit=MAX_BYTES)


def prepare_logo(data: bytes, content_type: str | None) -> PreparedLogo:
    """The logo to store for `data` sent as `content_type`, or the reason it is refused."""
    expected = check_type(content_type)
    if len(data) > MAX_BYTES:
        raise too_large()
    unreadable = LogoUnreadable(f"This is not a complete {expected} image that can be read; "
                                "export the logo again as PNG, JPEG or WebP.")
    if not data:
        raise unreadable
    with warnings.catch_warnings():
        # Pillow only warns between its pixel limit and twice it: an error here too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # `formats` makes Pillow read the bytes as the declared type only: a JPEG sent as
            # image/png, or an SVG under any image type, is not identified.
            with Image.open(io.BytesIO(data), formats=[expected]) as probe:
                # The size comes from the header: nothing is decompressed yet, so a small file
                # that declares a huge canvas (a decompression bomb) costs nothing.
                width, height = probe.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise LogoTooManyPixels(
                        f"The logo is {width}x{height} pixels; at most {MAX_SIDE}x{MAX_SIDE}.",
                        width=width, height=height, max_side=MAX_SIDE)
                probe.verify()  # checksums (PNG chunks' CRC) without decoding
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                image.load()  # decodes every pixel: a truncated file fails here
                clean = _normalised(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow refuses at open what declares far more pixels than its limit.
            raise LogoTooManyPixels(
                f"The logo declares far more than {MAX_SIDE}x{MAX_SIDE} pixels.",
                max_side=MAX_SIDE) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise unreadable from None
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    return PreparedLogo(png=png, sha256=hashlib.sha256(png).hexdigest(),
                        width=clean.width, height=clean.height)


def _normalised(image: Image.Image) -> Image.Image:
    """Upright, in sRGB, RGB or RGBA, at most MAX_SIDE_SHOWN a side, with no metadata."""
    upright = ImageOps.exif_transpose(image)  # a phone photo's rotation is in EXIF only
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in upright.info)
    mode = "RGBA" if has_alpha else "RGB"
    if upright.mode.startswith("I") or upright.mode == "F":
        # 16-bit and float greyscale: scaled to 8 bits before the conversion clips them.
        upright = upright.point(lambda value: value / 256).convert("L")
    converted = upright.convert(mode)
    profile = image.info.get("icc_profile")
    if profile:
        try:
            converted = ImageCms.profileToProfile(
                converted, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                ImageCms.createProfile("sRGB"), outputMode=mode) or converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as sRGB, as browsers would
    converted.thumbnail((MAX_SIDE_SHOWN, MAX_SIDE_SHOWN), Image.Resampling.LANCZOS)
    # A new image from the bare pixels: nothing of the upload's `info` (EXIF, text chunks,
    # ICC profile, gamma) can reach the saved PNG.
    return Image.frombytes(mode, converted.size, converted.tobytes())
