//! "…re-encodes it (JPEG) and so drops every byte of metadata (EXIF, GPS, ICC, comments)",
//! and a phone photo stored sideways comes out upright.

mod support;

use image::{DynamicImage, Rgb, RgbImage};
use support::{
    GPS_LATITUDE, contains, decoded, exif_app1, jpeg, near, plain, png, png_with_chunk,
    with_segment,
};
use wxlogin_media::{AvatarLimits, process_avatar};

const RED: [u8; 3] = [230, 20, 20];
const BLUE: [u8; 3] = [20, 20, 230];

/// A phone held upright stores its 48×64 photo as 64×48, turned; this one is red on top and
/// blue below as stored.
fn sideways_photo() -> Vec<u8> {
    let stored = RgbImage::from_fn(64, 48, |_, y| Rgb(if y < 24 { RED } else { BLUE }));
    jpeg(&DynamicImage::ImageRgb8(stored), 95)
}

#[test]
fn a_phone_photo_loses_its_exif_and_gps_but_stays_upright() {
    // Orientation 6: turn 90° clockwise to show it.
    let upload = with_segment(&sideways_photo(), 0xE1, &exif_app1(6));
    assert!(contains(&upload, b"Exif\0\0") && contains(&upload, &GPS_LATITUDE));

    let avatar =
        process_avatar(&upload, &AvatarLimits::default()).expect("a phone photo is accepted");

    assert!(!contains(&avatar.bytes, b"Exif"), "no Exif identifier");
    assert!(!contains(&avatar.bytes, &[0xFF, 0xE1]), "no APP1 segment");
    assert!(!contains(&avatar.bytes, b"MM\0\x2A"), "no TIFF header");
    assert!(!contains(&avatar.bytes, &GPS_LATITUDE), "no GPS latitude");
    assert_eq!(
        (avatar.width, avatar.height),
        (48, 64),
        "turned: width and height swapped"
    );
    let pixels = decoded(&avatar.bytes);
    assert_eq!(pixels.dimensions(), (48, 64));
    // Turned clockwise, what was the top is now the right-hand side.
    assert!(
        near(pixels.get_pixel(40, 32), RED),
        "right is red: {:?}",
        pixels.get_pixel(40, 32)
    );
    assert!(
        near(pixels.get_pixel(8, 32), BLUE),
        "left is blue: {:?}",
        pixels.get_pixel(8, 32)
    );
}

#[test]
fn a_photo_without_orientation_is_not_turned() {
    let upload = with_segment(&sideways_photo(), 0xE1, &exif_app1(1));

    let avatar = process_avatar(&upload, &AvatarLimits::default()).expect("accepted");

    assert_eq!((avatar.width, avatar.height), (64, 48));
    assert!(near(decoded(&avatar.bytes).get_pixel(32, 8), RED));
}

#[test]
fn icc_xmp_and_comment_segments_are_left_behind() {
    let original = jpeg(&plain(32, 32, RED), 90);
    let icc = [b"ICC_PROFILE\0\x01\x01".as_slice(), b"icc-marker-5f3a9c"].concat();
    let xmp = [
        b"http://ns.adobe.com/xap/1.0/\0".as_slice(),
        b"<x:xmpmeta>xmp-marker-5f3a9c",
    ]
    .concat();
    let upload = with_segment(&original, 0xE2, &icc);
    let upload = with_segment(&upload, 0xE1, &xmp);
    let upload = with_segment(&upload, 0xFE, b"comment-marker-5f3a9c");

    let avatar = process_avatar(&upload, &AvatarLimits::default()).expect("accepted");

    assert!(!contains(&avatar.bytes, b"marker-5f3a9c"));
    assert!(!contains(&avatar.bytes, b"ICC_PROFILE"));
    assert!(!contains(&avatar.bytes, &[0xFF, 0xE2]), "no APP2 segment");
    assert!(!contains(&avatar.bytes, &[0xFF, 0xFE]), "no COM segment");
}

#[test]
fn a_png_text_chunk_does_not_reach_the_avatar() {
    let upload = png_with_chunk(
        &png(&plain(16, 16, BLUE)),
        b"tEXt",
        b"Comment\0text-marker-5f3a9c",
    );

    let avatar = process_avatar(&upload, &AvatarLimits::default()).expect("accepted");

    assert!(!contains(&avatar.bytes, b"text-marker-5f3a9c"));
}
