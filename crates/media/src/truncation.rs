//! Whether a JPEG reaches its end: `image`'s JPEG decoder (zune-jpeg, not strict) decodes a
//! truncated file without complaint and paints what is missing grey. An upload cut short is
//! refused instead, so the user sends it again rather than keeping half a face.

/// Whether `jpeg` has its End Of Image marker where the markers lead, not merely somewhere:
/// an EXIF thumbnail is a JPEG too, with its own EOI, inside an APP1 segment that is skipped.
/// Bytes after the EOI (some phones append data) do not matter.
pub(crate) fn jpeg_is_complete(jpeg: &[u8]) -> bool {
    const SOI: u8 = 0xD8;
    const EOI: u8 = 0xD9;
    const SOS: u8 = 0xDA;
    const TEM: u8 = 0x01;
    const RST0: u8 = 0xD0;
    const RST7: u8 = 0xD7;

    if jpeg.get(..2) != Some(&[0xFF, SOI][..]) {
        return false;
    }
    let mut at = 2;
    loop {
        // A marker is 0xFF (any number of them: fill bytes) and a code. Anything else between
        // segments is skipped, as the decoder skips it.
        let Some(offset) = jpeg
            .get(at..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
        else {
            return false;
        };
        at += offset + 1;
        let Some(&code) = jpeg.get(at) else {
            return false;
        };
        at += 1;
        match code {
            0xFF => at -= 1,
            EOI => return true,
            TEM | RST0..=RST7 => {}
            SOS => {
                let Some(after_header) = skip_segment(jpeg, at) else {
                    return false;
                };
                let Some(next_marker) = end_of_scan(jpeg, after_header) else {
                    return false;
                };
                at = next_marker;
            }
            _ => match skip_segment(jpeg, at) {
                Some(next) => at = next,
                None => return false,
            },
        }
    }
}

/// The index after the segment whose two length bytes are at `at`, if the input holds it.
fn skip_segment(jpeg: &[u8], at: usize) -> Option<usize> {
    let length = jpeg.get(at..at + 2)?;
    let next = at + usize::from(u16::from_be_bytes([length[0], length[1]]));
    (next <= jpeg.len()).then_some(next)
}

/// Where the entropy-coded data that starts at `at` ends: the 0xFF of the first marker that is
/// neither a stuffed zero nor a restart marker.
fn end_of_scan(jpeg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at += jpeg.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match jpeg.get(at + 1)? {
            0x00 | 0xD0..=0xD7 => at += 2,
            _ => return Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP1 holding a whole thumbnail JPEG (SOI … EOI), SOS header, data, `end`.
    fn jpeg(end: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        bytes.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xD8, 0x00, 0x00, 0xFF, 0xD9]);
        bytes.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02]);
        bytes.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56]);
        bytes.extend_from_slice(end);
        bytes
    }

    #[test]
    fn a_jpeg_ending_in_eoi_is_complete() {
        assert!(jpeg_is_complete(&jpeg(&[0xFF, 0xD9])));
    }

    #[test]
    fn bytes_after_the_eoi_do_not_matter() {
        assert!(jpeg_is_complete(&jpeg(&[0xFF, 0xD9, 0x01, 0x02, 0x03])));
    }

    #[test]
    fn a_jpeg_cut_in_its_scan_is_not_complete_though_its_thumbnail_is() {
        assert!(!jpeg_is_complete(&jpeg(&[])));
    }

    #[test]
    fn a_jpeg_cut_inside_a_segment_is_not_complete() {
        assert!(!jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A
        ]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8]));
    }
}
