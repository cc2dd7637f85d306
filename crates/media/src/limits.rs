//! How much an upload may weigh, in bytes and in pixels, and how large the avatar comes out.

/// The bounds `process_avatar` holds an upload to, and the size of the avatar it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvatarLimits {
    /// The most bytes an upload may have (`AVATAR_MAX_BYTES`); more is `TooLarge` (413).
    pub max_bytes: usize,
    /// The most pixels an upload may have on either side, read from its header before decoding.
    pub max_side: u32,
    /// The avatar's largest side (`AVATAR_SIZE`): it is scaled down to fit `size`×`size`.
    pub size: u32,
}

impl Default for AvatarLimits {
    /// 5 MiB, 4096×4096 and 640: a phone photo fits, WeChat shows avatars far smaller than 640.
    fn default() -> Self {
        Self {
            max_bytes: 5 * 1024 * 1024,
            max_side: 4096,
            size: 640,
        }
    }
}

/// The widest pixel that the decoded image may spend within `max_side`: RGBA, 8 bits a channel.
const DECODED_BYTES_PER_PIXEL: u64 = 4;

impl AvatarLimits {
    /// The most bytes a decoder may allocate: one `max_side`×`max_side` RGBA8 image (64 MiB by
    /// default). Without it `image` allows 512 MiB. An image at 16 bits a channel weighs twice as
    /// much, so such an image is refused a little below `max_side` on a side.
    pub(crate) fn decoded_bytes(&self) -> u64 {
        u64::from(self.max_side) * u64::from(self.max_side) * DECODED_BYTES_PER_PIXEL
    }

    /// The limits given to `image`'s decoders: the side is a strict limit, checked on the header.
    pub(crate) fn for_decoder(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(self.decoded_bytes());
        limits
    }
}
