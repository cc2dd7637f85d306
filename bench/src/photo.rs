//! The avatar scenarios' images, made once per run with `image` (no binary file in the
//! repository): a phone photo as WeChat's `chooseAvatar` hands one over, about 200 KB, and a
//! small one for filling the media store quickly.

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// What a phone's avatar upload weighs, about.
const PHONE_JPEG_BYTES: usize = 200 * 1024;

/// A JPEG and what it is.
pub struct Photo {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
}

impl Photo {
    /// `1600×1200 JPEG, 201 KB (quality 92)`.
    pub fn describe(&self) -> String {
        format!(
            "{}×{} JPEG, {} KB (quality {})",
            self.width,
            self.height,
            self.bytes.len() / 1024,
            self.quality
        )
    }
}

/// A 1600×1200 photo-like JPEG of about 200 KB: the lowest quality from 85 up whose file
/// reaches 97 % of that (the server decodes it whatever the quality; the size is what a
/// phone sends).
pub fn phone_jpeg() -> anyhow::Result<Photo> {
    let pixels = photo_like(1600, 1200, 42);
    let mut last = None;
    for quality in 85..=98 {
        let bytes = jpeg(&pixels, quality)?;
        let enough = bytes.len() * 100 >= PHONE_JPEG_BYTES * 97;
        last = Some(Photo {
            bytes,
            width: 1600,
            height: 1200,
            quality,
        });
        if enough {
            break;
        }
    }
    last.ok_or_else(|| anyhow::anyhow!("no quality was tried"))
}

/// A 640×480 photo-like JPEG (quality 90): an avatar that needs no scaling, a few times
/// cheaper to upload, for filling the media store with many files before the reads.
pub fn avatar_sized_jpeg(seed: u64) -> anyhow::Result<Photo> {
    Ok(Photo {
        bytes: jpeg(&photo_like(640, 480, seed), 90)?,
        width: 640,
        height: 480,
        quality: 90,
    })
}

fn jpeg(pixels: &RgbImage, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(pixels)?;
    Ok(bytes)
}

/// What a phone photo looks like to an encoder: smooth light, a few soft shapes, sensor noise
/// (±3); as `crates/media/benches/process.rs` makes its upload, so the two measure the same
/// kind of file.
fn photo_like(width: u32, height: u32, seed: u64) -> RgbImage {
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

/// A reproducible source of noise.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The phone photo's size search is seen in every run (it prints the photo); encoding
    // 1600×1200 several times takes most of a minute in a debug build, so only the small one
    // is checked here.
    #[test]
    fn the_avatar_sized_photo_is_a_jpeg_of_its_size() {
        let photo = avatar_sized_jpeg(1).expect("encoded");
        assert_eq!(&photo.bytes[..2], [0xFF, 0xD8]);
        let decoded = image::load_from_memory(&photo.bytes).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (640, 480));
    }
}
