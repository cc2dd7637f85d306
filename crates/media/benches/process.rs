//! One avatar upload as users make it: a ~200 KB, 1600×1200 phone JPEG in, a 640×480 avatar
//! out. The time per upload is the CPU one upload costs; uploads/s per core is its inverse.
//! Before the timing, prints how much memory one processing adds at its peak.
//!
//! `cargo bench -p wxlogin-media --bench process -- --warm-up-time 1 --measurement-time 5`

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use image::DynamicImage;
use wxlogin_media::{AvatarLimits, process_avatar};

/// A phone photo as uploaded: 1600×1200, JPEG quality 90, with an EXIF block.
fn phone_jpeg() -> Vec<u8> {
    let photo = support::jpeg(
        &DynamicImage::ImageRgb8(support::photo_like(1600, 1200, 42)),
        90,
    );
    support::with_segment(&photo, 0xE1, &support::exif_app1(1))
}

/// A line of `/proc/self/status`, in bytes (Linux; `None` elsewhere).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The resident memory one processing adds at its peak: the high-water mark, reset just before
/// (writing 5 to `clear_refs`), minus what was resident then. Resident, not allocated: close,
/// since every buffer on the way is written in full (a counting allocator, kept out of the repo
/// because it needs `unsafe`, saw 18.1 MiB of heap at the peak for this upload).
fn peak_added_by_one(upload: &[u8]) -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let before = status_bytes("VmRSS:")?;
    let avatar = process_avatar(upload, &AvatarLimits::default()).ok()?;
    let peak = status_bytes("VmHWM:")?;
    black_box(avatar);
    Some(peak.saturating_sub(before))
}

fn process(c: &mut Criterion) {
    let upload = phone_jpeg();
    // First, while no buffer of an earlier run waits in the allocator to be reused unseen.
    match peak_added_by_one(&upload) {
        Some(peak) => println!(
            "peak memory added by one {} KB JPEG: {peak} bytes ({:.1} MiB resident)",
            upload.len() / 1024,
            peak as f64 / (1024.0 * 1024.0)
        ),
        None => println!("peak memory: not measurable here (needs Linux /proc)"),
    }
    let avatar =
        process_avatar(&upload, &AvatarLimits::default()).expect("a phone photo is accepted");
    println!(
        "upload: 1600x1200 JPEG, {} bytes ({} KB); avatar: {}x{}, {} bytes",
        upload.len(),
        upload.len() / 1024,
        avatar.width,
        avatar.height,
        avatar.bytes.len()
    );

    let mut group = c.benchmark_group("avatar");
    // About 0.1 s an iteration: 20 samples fit the 5 s the command line asks for.
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    group.bench_function("process_avatar/1600x1200_phone_jpeg", |b| {
        b.iter(|| process_avatar(black_box(&upload), &AvatarLimits::default()))
    });
    group.finish();
}

criterion_group!(benches, process);
criterion_main!(benches);
