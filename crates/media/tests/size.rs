//! "…scales it to fit AVATAR_SIZE (default 640) pixels square", never upscaling.

mod support;

use image::{DynamicImage, GrayImage, Luma};
use support::{decoded, plain, png};
use wxlogin_media::{AvatarLimits, process_avatar};

#[test]
fn a_1600_by_1200_image_becomes_640_by_480() {
    // Grey and plain: in a debug build, a photo this size takes seconds to make and to scale.
    let upload = png(&DynamicImage::ImageLuma8(GrayImage::from_pixel(
        1600,
        1200,
        Luma([90]),
    )));

    let avatar = process_avatar(&upload, &AvatarLimits::default()).expect("accepted");

    assert_eq!((avatar.width, avatar.height), (640, 480));
    assert_eq!(decoded(&avatar.bytes).dimensions(), (640, 480));
}

#[test]
fn a_portrait_image_fits_by_its_height() {
    let avatar = process_avatar(&png(&plain(300, 1200, [1, 1, 1])), &AvatarLimits::default())
        .expect("accepted");

    assert_eq!((avatar.width, avatar.height), (160, 640));
}

#[test]
fn a_100_by_50_image_stays_100_by_50() {
    let avatar = process_avatar(&png(&plain(100, 50, [1, 1, 1])), &AvatarLimits::default())
        .expect("accepted");

    assert_eq!((avatar.width, avatar.height), (100, 50));
    assert_eq!(decoded(&avatar.bytes).dimensions(), (100, 50));
}

#[test]
fn a_smaller_avatar_size_is_held_to() {
    let limits = AvatarLimits {
        size: 132,
        ..AvatarLimits::default()
    };

    let avatar = process_avatar(&png(&plain(400, 400, [1, 1, 1])), &limits).expect("accepted");

    assert_eq!((avatar.width, avatar.height), (132, 132));
}
