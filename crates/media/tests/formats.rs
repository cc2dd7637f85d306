//! "The image must be JPEG, PNG, WebP or GIF by its content (not its name or declared type)…
//! keeps the first frame… Anything else: 400 invalid_image."

mod support;

use image::{DynamicImage, GrayAlphaImage, LumaA};
use support::{
    animated_webp, bmp_1x1, decoded, gif, jpeg, near, plain, png, solid_rgba, tiff_1x1,
    webp_lossless,
};
use wxlogin_media::{AvatarError, AvatarLimits, process_avatar, sniff};

const GREEN: [u8; 3] = [20, 200, 60];
const RED: [u8; 4] = [255, 0, 0, 255];
const BLUE: [u8; 4] = [0, 0, 255, 255];

fn assert_green_avatar(upload: &[u8]) {
    let avatar = process_avatar(upload, &AvatarLimits::default()).expect("accepted");
    assert_eq!(avatar.content_type, "image/jpeg");
    assert_eq!(avatar.extension, "jpg");
    assert_eq!((avatar.width, avatar.height), (20, 10));
    assert!(decoded(&avatar.bytes).pixels().all(|p| near(p, GREEN)));
}

#[test]
fn a_jpeg_is_accepted() {
    assert_green_avatar(&jpeg(&plain(20, 10, GREEN), 90));
}

#[test]
fn a_png_is_accepted() {
    assert_green_avatar(&png(&plain(20, 10, GREEN)));
}

#[test]
fn a_lossless_webp_is_accepted() {
    assert_green_avatar(&webp_lossless(&plain(20, 10, GREEN)));
}

#[test]
fn a_gif_is_accepted() {
    let [r, g, b] = GREEN;
    assert_green_avatar(&gif(&[solid_rgba(20, 10, [r, g, b, 255])]));
}

#[test]
fn an_animated_gif_gives_its_first_frame() {
    let upload = gif(&[solid_rgba(16, 16, RED), solid_rgba(16, 16, BLUE)]);

    let avatar = process_avatar(&upload, &AvatarLimits::default()).expect("accepted");

    assert!(
        decoded(&avatar.bytes)
            .pixels()
            .all(|p| near(p, [255, 0, 0]))
    );
}

#[test]
fn an_animated_webp_gives_its_first_frame() {
    let upload = animated_webp(&[solid_rgba(16, 16, RED), solid_rgba(16, 16, BLUE)]);

    let avatar = process_avatar(&upload, &AvatarLimits::default()).expect("accepted");

    assert!(
        decoded(&avatar.bytes)
            .pixels()
            .all(|p| near(p, [255, 0, 0]))
    );
}

#[test]
fn a_transparent_png_comes_out_on_white() {
    let transparent = solid_rgba(16, 16, [0, 0, 0, 0]);

    let avatar = process_avatar(
        &png(&DynamicImage::ImageRgba8(transparent)),
        &AvatarLimits::default(),
    )
    .expect("accepted");

    assert!(
        decoded(&avatar.bytes)
            .pixels()
            .all(|p| near(p, [255, 255, 255]))
    );
}

#[test]
fn a_half_transparent_grey_png_comes_out_lighter() {
    let black_half_seen = GrayAlphaImage::from_pixel(8, 8, LumaA([0, 128]));

    let avatar = process_avatar(
        &png(&DynamicImage::ImageLumaA8(black_half_seen)),
        &AvatarLimits::default(),
    )
    .expect("accepted");

    assert!(
        decoded(&avatar.bytes)
            .pixels()
            .all(|p| near(p, [127, 127, 127]))
    );
}

#[test]
fn a_text_file_named_jpg_is_not_an_image() {
    // The name and the declared type are not looked at: they are not even passed.
    let upload = b"hello";

    assert!(matches!(
        process_avatar(upload, &AvatarLimits::default()),
        Err(AvatarError::NotAnImage)
    ));
    assert_eq!(sniff(upload), None);
}

#[test]
fn an_empty_upload_is_not_an_image() {
    assert!(matches!(
        process_avatar(b"", &AvatarLimits::default()),
        Err(AvatarError::NotAnImage)
    ));
}

#[test]
fn an_svg_is_not_an_image() {
    // Scripts in SVG run when the avatar is opened in a browser: never accepted.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;

    assert!(matches!(
        process_avatar(svg, &AvatarLimits::default()),
        Err(AvatarError::NotAnImage)
    ));
}

#[test]
fn a_bmp_is_refused_though_it_is_an_image() {
    assert!(matches!(
        process_avatar(&bmp_1x1(), &AvatarLimits::default()),
        Err(AvatarError::NotAnImage)
    ));
    assert_eq!(sniff(&bmp_1x1()), None);
}

#[test]
fn a_tiff_is_refused_though_it_is_an_image() {
    assert!(matches!(
        process_avatar(&tiff_1x1(), &AvatarLimits::default()),
        Err(AvatarError::NotAnImage)
    ));
    assert_eq!(sniff(&tiff_1x1()), None);
}

#[test]
fn sniff_names_each_accepted_format_by_its_content() {
    let image = plain(4, 4, GREEN);

    assert_eq!(sniff(&jpeg(&image, 90)), Some("image/jpeg"));
    assert_eq!(sniff(&png(&image)), Some("image/png"));
    assert_eq!(sniff(&webp_lossless(&image)), Some("image/webp"));
    assert_eq!(sniff(&gif(&[solid_rgba(4, 4, RED)])), Some("image/gif"));
}

#[test]
fn the_avatar_debug_shows_the_length_of_its_bytes_not_the_bytes() {
    let avatar =
        process_avatar(&png(&plain(4, 4, GREEN)), &AvatarLimits::default()).expect("accepted");

    let debug = format!("{avatar:?}");

    assert!(
        debug.contains(&format!("<{} bytes>", avatar.bytes.len())),
        "{debug}"
    );
    assert!(debug.len() < 200, "{debug}");
}
