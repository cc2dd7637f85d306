//! Whatever the client sends, the answer is an avatar or an error: never a panic, which would
//! take down a blocking thread with the request.

mod support;

use image::DynamicImage;
use support::{XorShift, gif, jpeg, photo_like, png, webp_lossless};
use wxlogin_media::{AvatarLimits, process_avatar, sniff};

/// Small limits keep a debug-build decode of whatever the noise claims cheap.
fn limits() -> AvatarLimits {
    AvatarLimits {
        max_side: 256,
        size: 64,
        ..AvatarLimits::default()
    }
}

#[test]
fn random_bytes_never_panic() {
    for seed in 0..300 {
        let mut rng = XorShift::new(seed);
        let len = rng.below(2048) as usize;
        let upload = rng.bytes(len);
        let _ = sniff(&upload);
        let _ = process_avatar(&upload, &limits());
    }
}

#[test]
fn random_bytes_after_each_accepted_signature_never_panic() {
    let signatures: [&[u8]; 6] = [
        b"\xFF\xD8\xFF",
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"GIF87a",
        b"RIFF\x00\x10\x00\x00WEBPVP8L",
        b"RIFF\x00\x10\x00\x00WEBPVP8X",
    ];
    for seed in 0..300 {
        let mut rng = XorShift::new(seed);
        let signature = signatures[seed as usize % signatures.len()];
        let len = rng.below(1024) as usize;
        let upload = [signature, &rng.bytes(len)].concat();
        let _ = process_avatar(&upload, &limits());
    }
}

#[test]
fn valid_images_with_random_bytes_flipped_never_panic() {
    let image = DynamicImage::ImageRgb8(photo_like(48, 32, 9));
    let uploads = [
        png(&image),
        jpeg(&image, 80),
        webp_lossless(&image),
        gif(&[image.to_rgba8()]),
    ];
    for seed in 0..400 {
        let mut rng = XorShift::new(seed);
        let mut upload = uploads[seed as usize % uploads.len()].clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(upload.len() as u64) as usize;
            upload[at] = rng.next().to_le_bytes()[0];
        }
        if rng.below(4) == 0 {
            upload.truncate(rng.below(upload.len() as u64) as usize);
        }
        let _ = process_avatar(&upload, &limits());
    }
}
