//! Images as phones and attackers send them, made here: a JPEG carrying EXIF with a GPS
//! position, PNG, WebP, an animated GIF, and the ones to refuse.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A text the EXIF block carries in its GPS directory, to look for in what comes back.
pub(crate) const GPS_MARKER: &[u8] = b"WXLOGIN-GPS-31.2304N-121.4737E";

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width) as u8,
            (y * 255 / height) as u8,
            ((x ^ y) & 0xff) as u8,
        ])
    })
}

/// A JPEG as a phone takes it: 1200×900, with an APP1 EXIF block whose GPS directory holds a
/// latitude reference and [`GPS_MARKER`].
pub(crate) fn jpeg_with_gps() -> Vec<u8> {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(photo(1200, 900)),
        ImageFormat::Jpeg,
    );
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\x00\x2a\x00\x00\x00\x08");
    // IFD0: one entry, the GPS directory's offset (26).
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 26]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    // The GPS directory at 26: GPSLatitudeRef "N", and GPSProcessingMethod at 56.
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&[0x00, 0x1b, 0x00, 0x07, 0, 0, 0, GPS_MARKER.len() as u8]);
    tiff.extend_from_slice(&56u32.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(tiff.len(), 56);
    tiff.extend_from_slice(GPS_MARKER);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A 300×200 PNG with transparency.
pub(crate) fn png() -> Vec<u8> {
    let image = RgbaImage::from_fn(300, 200, |x, _| {
        Rgba([200, 10, 10, if x < 150 { 0 } else { 255 }])
    });
    encode(&DynamicImage::ImageRgba8(image), ImageFormat::Png)
}

/// A 256×256 WebP (lossless: what the image library writes).
pub(crate) fn webp() -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(photo(256, 256)), ImageFormat::WebP)
}

/// An animated GIF of two 64×64 frames: red, then blue.
pub(crate) fn gif_red_then_blue() -> Vec<u8> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).expect("repeat");
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = RgbaImage::from_pixel(64, 64, Rgba(colour));
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .expect("frame");
        }
    }
    out
}

/// The first half of a JPEG: a transfer cut short.
pub(crate) fn truncated_jpeg() -> Vec<u8> {
    let jpeg = encode(&DynamicImage::ImageRgb8(photo(400, 300)), ImageFormat::Jpeg);
    jpeg[..jpeg.len() / 2].to_vec()
}

/// A PNG of a few hundred bytes that says it is 20000×20000 pixels (1.2 GB decoded): a
/// decompression bomb, to be refused before anything is decoded.
pub(crate) fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // A zlib stream of zeros would be the rest; a few bytes of it are enough to be a PNG.
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Decodes an answer's image, to look at its pixels.
pub(crate) fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("a decodable image")
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
