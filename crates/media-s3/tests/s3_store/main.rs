//! The S3 media store against a real S3 server (moto's), and against endpoints that are down
//! or silent. One test binary, so the tests can share one moto server.

mod configuration;
mod failures;
mod layout;

mod round_trip;

use wxlogin_domain::MediaObject;

/// An avatar as the use cases hand it over.
fn avatar(name: &str, content_type: &str) -> MediaObject {
    MediaObject {
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        // Not an image: the store keeps bytes, it does not look at them. Every byte value,
        // so nothing is lost to a text encoding on the way.
        bytes: (0..=255u8).cycle().take(3000).collect(),
    }
}
