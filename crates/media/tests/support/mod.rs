//! Fixtures, made here with `image` (no binary files in the repository), and the bytes of
//! formats and metadata that `image` does not write, built by hand.
//!
//! Each test binary uses a few of these: the rest would be dead code to it.
#![allow(dead_code)]

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A reproducible source of noise: no `rand` needed for fixtures and garbage.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

/// What a phone photo looks like to an encoder: smooth light, a few soft shapes, sensor noise
/// (±3). At 1600×1200 and JPEG quality 90 it weighs about 180 KB, as a phone's upload does.
pub fn photo_like(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut rng = XorShift::new(seed);
    let blobs: Vec<(f32, f32, f32, [f32; 3])> = (0..12)
        .map(|_| {
            let x = rng.below(u64::from(width)) as f32;
            let y = rng.below(u64::from(height)) as f32;
            let radius = rng.below(u64::from(width / 4 + 1)) as f32 + 20.0;
            let colour = [0, 0, 0].map(|_: u8| rng.below(256) as f32);
            (x, y, radius, colour)
        })
        .collect();
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let mut colour = [60.0 + 120.0 * fx, 80.0 + 100.0 * fy, 150.0 - 80.0 * fx * fy];
        for &(bx, by, radius, blob) in &blobs {
            let d2 = ((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)) / (radius * radius);
            let weight = (-d2).exp() * 0.8;
            for (c, b) in colour.iter_mut().zip(blob) {
                *c = *c * (1.0 - weight) + b * weight;
            }
        }
        Rgb(colour.map(|c| {
            let noise = rng.below(7) as f32 - 3.0;
            (c + noise).clamp(0.0, 255.0) as u8
        }))
    })
}

/// A cheap image of one colour.
pub fn plain(width: u32, height: u32, colour: [u8; 3]) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb(colour)))
}

pub fn jpeg(image: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .expect("a fixture encodes");
    bytes
}

pub fn png(image: &DynamicImage) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, ImageFormat::Png)
        .expect("a fixture encodes");
    bytes.into_inner()
}

pub fn webp_lossless(image: &DynamicImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_with_encoder(WebPEncoder::new_lossless(&mut bytes))
        .expect("a fixture encodes");
    bytes
}

/// A GIF of the given frames, in order.
pub fn gif(frames: &[RgbaImage]) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        for frame in frames {
            encoder
                .encode_frame(Frame::new(frame.clone()))
                .expect("a fixture encodes");
        }
    }
    bytes
}

pub fn solid_rgba(width: u32, height: u32, colour: [u8; 4]) -> RgbaImage {
    RgbaImage::from_pixel(width, height, Rgba(colour))
}

/// An animated WebP (VP8X + ANIM + one ANMF per frame), which `image` cannot write: each frame
/// is the VP8L chunk of a lossless WebP that `image` wrote.
pub fn animated_webp(frames: &[RgbaImage]) -> Vec<u8> {
    let (width, height) = frames[0].dimensions();
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![0x02 | 0x10, 0, 0, 0]; // animation, alpha
    vp8x.extend_from_slice(&u24(width - 1));
    vp8x.extend_from_slice(&u24(height - 1));
    push_chunk(&mut body, b"VP8X", &vp8x);
    push_chunk(&mut body, b"ANIM", &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0]);
    for frame in frames {
        let still = webp_lossless(&DynamicImage::ImageRgba8(frame.clone()));
        let vp8l = riff_chunk(&still, b"VP8L").expect("a lossless WebP has a VP8L chunk");
        let mut anmf = Vec::new();
        anmf.extend_from_slice(&u24(0));
        anmf.extend_from_slice(&u24(0));
        anmf.extend_from_slice(&u24(frame.width() - 1));
        anmf.extend_from_slice(&u24(frame.height() - 1));
        anmf.extend_from_slice(&u24(100));
        anmf.push(0);
        push_chunk(&mut anmf, b"VP8L", vp8l);
        push_chunk(&mut body, b"ANMF", &anmf);
    }
    let mut riff = b"RIFF".to_vec();
    riff.extend_from_slice(&u32::try_from(body.len()).expect("small").to_le_bytes());
    riff.extend_from_slice(&body);
    riff
}

fn u24(value: u32) -> [u8; 3] {
    let [a, b, c, _] = value.to_le_bytes();
    [a, b, c]
}

fn push_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

/// The data of the first chunk named `fourcc` in a simple (non-extended) WebP file.
fn riff_chunk<'a>(webp: &'a [u8], fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 12;
    while at + 8 <= webp.len() {
        let size = u32::from_le_bytes(webp[at + 4..at + 8].try_into().ok()?) as usize;
        if &webp[at..at + 4] == fourcc {
            return webp.get(at + 8..at + 8 + size);
        }
        at += 8 + size + size % 2;
    }
    None
}

/// `jpeg` with a segment (`marker`, then `payload`) inserted right after its SOI, where a
/// camera puts its APP1 Exif.
pub fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).expect("a segment is under 64 KiB");
    let mut bytes = jpeg[..2].to_vec();
    bytes.extend_from_slice(&[0xFF, marker]);
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&jpeg[2..]);
    bytes
}

/// Where the camera was: 39°54'27.1" N, as the three rationals of an EXIF GPSLatitude.
pub const GPS_LATITUDE: [u8; 24] = [
    0, 0, 0, 39, 0, 0, 0, 1, // 39/1 degrees
    0, 0, 0, 54, 0, 0, 0, 1, // 54/1 minutes
    0, 0, 0x0A, 0x96, 0, 0, 0, 100, // 2710/100 seconds
];

/// The payload of an APP1 Exif segment as a phone writes it: big-endian TIFF, IFD0 with
/// Orientation and a pointer to a GPS IFD holding GPSLatitudeRef and GPSLatitude.
pub fn exif_app1(orientation: u16) -> Vec<u8> {
    const IFD0: u32 = 8;
    const GPS_IFD: u32 = IFD0 + 2 + 2 * 12 + 4;
    const GPS_DATA: u32 = GPS_IFD + 2 + 2 * 12 + 4;
    let mut tiff = b"MM\0\x2A".to_vec();
    tiff.extend_from_slice(&IFD0.to_be_bytes());
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&kind.to_be_bytes());
        tiff.extend_from_slice(&count.to_be_bytes());
        tiff.extend_from_slice(&value);
    };
    let [o1, o2] = orientation.to_be_bytes();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    entry(&mut tiff, 0x0112, 3, 1, [o1, o2, 0, 0]); // Orientation, SHORT
    entry(&mut tiff, 0x8825, 4, 1, GPS_IFD.to_be_bytes()); // GPSInfo IFD pointer, LONG
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&2u16.to_be_bytes());
    entry(&mut tiff, 0x0001, 2, 2, *b"N\0\0\0"); // GPSLatitudeRef, ASCII
    entry(&mut tiff, 0x0002, 5, 3, GPS_DATA.to_be_bytes()); // GPSLatitude, 3 RATIONAL
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&GPS_LATITUDE);

    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    app1
}

/// `png` with a chunk inserted right after IHDR.
pub fn png_with_chunk(png: &[u8], kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    const AFTER_IHDR: usize = 8 + 8 + 13 + 4;
    let mut bytes = png[..AFTER_IHDR].to_vec();
    bytes.extend_from_slice(&png_chunk(kind, data));
    bytes.extend_from_slice(&png[AFTER_IHDR..]);
    bytes
}

/// The smallest PNG that claims `width`×`height`: an 8-bit grey IHDR and a few bytes of IDAT.
/// Decoded, it would be `width`·`height` bytes; 20000×20000 is 400 MB from 70 bytes.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bits, grey, deflate, no filter, no interlace
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
    // zlib header and the start of a stored block of zeros: the rest never comes.
    bytes.extend_from_slice(&png_chunk(
        b"IDAT",
        &[0x78, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0, 0],
    ));
    bytes.extend_from_slice(&png_chunk(b"IEND", &[]));
    bytes
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

/// CRC-32 (IEEE), as PNG checks it on every chunk.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `jpeg` with the dimensions in its SOF0 segment replaced: what a bomb's header says.
pub fn jpeg_claiming(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg.to_vec();
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    // FF C0, length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// `gif` with its logical screen size replaced.
pub fn gif_claiming(gif: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut bytes = gif.to_vec();
    bytes[6..8].copy_from_slice(&width.to_le_bytes());
    bytes[8..10].copy_from_slice(&height.to_le_bytes());
    bytes
}

/// A lossless WebP whose VP8L header claims 16383×16383 (16384, the format's most, reads as 0
/// in image-webp 0.2.4).
pub fn webp_claiming_16383(webp: &[u8]) -> Vec<u8> {
    let mut bytes = webp.to_vec();
    let vp8l = bytes
        .windows(4)
        .position(|w| w == b"VP8L")
        .expect("a lossless WebP has VP8L");
    // Chunk header (8), signature 0x2F (1), then 14 bits width − 1, 14 bits height − 1.
    let at = vp8l + 9;
    let bits = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let sides = 0x3FFE | (0x3FFE << 14);
    let bits = (bits & !0x0FFF_FFFF) | sides;
    bytes[at..at + 4].copy_from_slice(&bits.to_le_bytes());
    bytes
}

/// A 1×1 BMP (Windows bitmap, 24 bits): a real image, of a format not accepted.
pub fn bmp_1x1() -> Vec<u8> {
    let mut bytes = b"BM".to_vec();
    bytes.extend_from_slice(&58u32.to_le_bytes()); // file size
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
    bytes.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
    bytes.extend_from_slice(&1i32.to_le_bytes());
    bytes.extend_from_slice(&1i32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // planes
    bytes.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
    bytes.extend_from_slice(&[0; 24]); // no compression, sizes, resolution, palette
    bytes.extend_from_slice(&[0, 0, 255, 0]); // one red pixel, padded to 4 bytes
    bytes
}

/// A 1×1 TIFF (8-bit grey, uncompressed): a real image, of a format not accepted.
pub fn tiff_1x1() -> Vec<u8> {
    let mut bytes = b"II\x2A\0".to_vec();
    bytes.extend_from_slice(&8u32.to_le_bytes());
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 3, 1, 1),   // ImageWidth
        (257, 3, 1, 1),   // ImageLength
        (258, 3, 1, 8),   // BitsPerSample
        (259, 3, 1, 1),   // Compression: none
        (262, 3, 1, 1),   // PhotometricInterpretation: black is zero
        (273, 4, 1, 110), // StripOffsets
        (278, 3, 1, 1),   // RowsPerStrip
        (279, 4, 1, 1),   // StripByteCounts
    ];
    bytes.extend_from_slice(&8u16.to_le_bytes());
    for (tag, kind, count, value) in entries {
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.push(0x80); // the pixel, at offset 8 + 2 + 8·12 + 4 = 110
    bytes
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The avatar's pixels, decoded back.
pub fn decoded(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg)
        .expect("the avatar is a JPEG")
        .into_rgb8()
}

/// Whether a JPEG-decoded pixel is close to `colour` (JPEG is lossy).
pub fn near(pixel: &Rgb<u8>, colour: [u8; 3]) -> bool {
    pixel
        .0
        .iter()
        .zip(colour)
        .all(|(&p, c)| p.abs_diff(c) <= 24)
}
