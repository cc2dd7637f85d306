//! "…at most AVATAR_MAX_BYTES (default 5 MiB) and 4096×4096 pixels… Anything else: 400
//! invalid_image (or 413 payload_too_large)". A decompression bomb is refused on its header.

mod support;

use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage};
use support::{
    XorShift, gif, gif_claiming, jpeg, jpeg_claiming, photo_like, plain, png, png_claiming,
    solid_rgba, webp_claiming_16383, webp_lossless,
};
use wxlogin_media::{AvatarError, AvatarLimits, process_avatar};

fn is_too_many_pixels(result: Result<wxlogin_media::Avatar, AvatarError>) -> bool {
    matches!(result, Err(AvatarError::TooManyPixels { max_side: 4096 }))
}

#[test]
fn the_defaults_are_5_mib_4096_pixels_and_640() {
    let limits = AvatarLimits::default();

    assert_eq!(
        (limits.max_bytes, limits.max_side, limits.size),
        (5 * 1024 * 1024, 4096, 640)
    );
}

#[test]
fn one_byte_over_max_bytes_is_too_large_whatever_it_holds() {
    let limits = AvatarLimits::default();
    // Not an image either: the size is refused first, without looking.
    let upload = vec![0u8; limits.max_bytes + 1];

    let error = process_avatar(&upload, &limits).expect_err("refused");

    assert!(matches!(error, AvatarError::TooLarge { max_bytes } if max_bytes == limits.max_bytes));
    assert!(error.is_too_large(), "413, not 400");
}

#[test]
fn a_valid_image_over_max_bytes_is_too_large() {
    let upload = png(&plain(8, 8, [1, 2, 3]));
    let limits = AvatarLimits {
        max_bytes: upload.len() - 1,
        ..AvatarLimits::default()
    };

    assert!(matches!(
        process_avatar(&upload, &limits),
        Err(AvatarError::TooLarge { .. })
    ));
    assert!(
        process_avatar(
            &upload,
            &AvatarLimits {
                max_bytes: upload.len(),
                ..limits
            }
        )
        .is_ok()
    );
}

#[test]
fn only_too_large_is_413() {
    let not_an_image = process_avatar(b"hello", &AvatarLimits::default()).expect_err("refused");

    assert!(!not_an_image.is_too_large());
}

#[test]
fn a_20000_pixel_png_of_a_few_bytes_is_refused_on_its_header_at_once() {
    // Decoded, this would be 400 MB of grey (1.6 GB as RGBA).
    let bomb = png_claiming(20_000, 20_000);
    assert!(bomb.len() < 100);

    let started = Instant::now();
    let result = process_avatar(&bomb, &AvatarLimits::default());

    // Not Undecodable: had it decoded, the IDAT would have run out.
    assert!(is_too_many_pixels(result));
    // Microseconds in fact; a debug build on a loaded machine still stays far below this, and
    // allocating and zeroing 400 MB would not.
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn every_format_is_refused_on_its_header_when_it_claims_too_many_pixels() {
    let small = plain(8, 8, [9, 9, 9]);

    assert!(is_too_many_pixels(process_avatar(
        &jpeg_claiming(&jpeg(&small, 90), 20_000, 20_000),
        &AvatarLimits::default()
    )));
    assert!(is_too_many_pixels(process_avatar(
        &gif_claiming(&gif(&[solid_rgba(8, 8, [9, 9, 9, 255])]), 20_000, 20_000),
        &AvatarLimits::default()
    )));
    assert!(is_too_many_pixels(process_avatar(
        &webp_claiming_16383(&webp_lossless(&small)),
        &AvatarLimits::default()
    )));
}

#[test]
fn one_pixel_over_max_side_is_too_many_pixels_either_way() {
    let wide = png(&DynamicImage::ImageLuma8(GrayImage::new(4097, 1)));
    let tall = png(&DynamicImage::ImageLuma8(GrayImage::new(1, 4097)));

    assert!(is_too_many_pixels(process_avatar(
        &wide,
        &AvatarLimits::default()
    )));
    assert!(is_too_many_pixels(process_avatar(
        &tall,
        &AvatarLimits::default()
    )));
}

#[test]
fn exactly_max_side_is_accepted() {
    let wide = png(&DynamicImage::ImageLuma8(GrayImage::new(4096, 2)));
    let tall = png(&DynamicImage::ImageLuma8(GrayImage::new(2, 4096)));

    let wide = process_avatar(&wide, &AvatarLimits::default()).expect("4096 wide is accepted");
    let tall = process_avatar(&tall, &AvatarLimits::default()).expect("4096 tall is accepted");

    assert_eq!((wide.width, wide.height), (640, 1));
    assert_eq!((tall.width, tall.height), (1, 640));
}

#[test]
fn a_lower_max_side_is_held_to() {
    let limits = AvatarLimits {
        max_side: 100,
        ..AvatarLimits::default()
    };

    assert!(process_avatar(&png(&plain(100, 100, [5, 5, 5])), &limits).is_ok());
    assert!(matches!(
        process_avatar(&png(&plain(101, 100, [5, 5, 5])), &limits),
        Err(AvatarError::TooManyPixels { max_side: 100 })
    ));
}

#[test]
fn a_jpeg_cut_in_half_is_undecodable() {
    let whole = jpeg(&DynamicImage::ImageRgb8(photo_like(160, 120, 1)), 90);
    assert!(process_avatar(&whole, &AvatarLimits::default()).is_ok());

    let half = &whole[..whole.len() / 2];

    assert!(matches!(
        process_avatar(half, &AvatarLimits::default()),
        Err(AvatarError::Undecodable(_))
    ));
}

#[test]
fn a_png_gif_or_webp_cut_short_is_undecodable() {
    let image = DynamicImage::ImageRgb8(photo_like(64, 48, 2));
    let uploads = [
        ("png", png(&image)),
        ("webp", webp_lossless(&image)),
        ("gif", gif(&[image.to_rgba8()])),
    ];

    for (format, whole) in uploads {
        let cut = &whole[..whole.len() * 3 / 4];
        let result = process_avatar(cut, &AvatarLimits::default());
        assert!(
            matches!(result, Err(AvatarError::Undecodable(_))),
            "{format}: {result:?}"
        );
    }
}

#[test]
fn a_corrupt_jpeg_is_undecodable_or_an_avatar_never_a_panic() {
    // JPEG decoders conceal damage in the scan (and so does this one): only the outcome's kind
    // is asserted, for damage in the headers too.
    let whole = jpeg(&DynamicImage::ImageRgb8(photo_like(64, 48, 3)), 90);
    let mut rng = XorShift::new(7);
    for _ in 0..50 {
        let mut damaged = whole.clone();
        let at = 2 + rng.below(600) as usize;
        damaged[at] ^= 1 << rng.below(8);
        match process_avatar(&damaged, &AvatarLimits::default()) {
            Ok(_) | Err(AvatarError::Undecodable(_) | AvatarError::TooManyPixels { .. }) => {}
            Err(other) => panic!("byte {at}: {other:?}"),
        }
    }
}

#[test]
fn error_messages_say_what_was_wrong_and_nothing_about_the_server() {
    let messages = [
        AvatarError::TooLarge {
            max_bytes: 5_242_880,
        }
        .to_string(),
        AvatarError::NotAnImage.to_string(),
        AvatarError::TooManyPixels { max_side: 4096 }.to_string(),
    ];

    assert_eq!(messages[0], "the image is larger than 5242880 bytes");
    assert_eq!(
        messages[1],
        "the file is not a JPEG, PNG, WebP or GIF image"
    );
    assert_eq!(
        messages[2],
        "the image has too many pixels: at most 4096×4096 are accepted"
    );
}
