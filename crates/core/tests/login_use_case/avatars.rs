//! The modern profile against mocks: an upload refused before anything is stored, an upload
//! stored, shown and sent to WeChat's check, a risky nickname refused before the store sees it,
//! and a spent quota pausing an app's checks until the next minute.

use std::sync::Arc;

use wxlogin_core::{ContentCheckSettings, CoreError, MediaSettings, ProfileEdit};
use wxlogin_domain::{
    AccessToken, ContentVerdict, MockAvatarStore, MockMediaStore, OpenId, StoredAccessToken,
    Suggest, User, WeChatError,
};

use crate::support::{Mocks, NOW, caller_in_app, user};

const CHECKS_ON: ContentCheckSettings = ContentCheckSettings {
    enabled: true,
    fail_closed: false,
};

fn media_settings() -> MediaSettings {
    MediaSettings {
        public_base_url: "https://cdn.example".into(),
        ..MediaSettings::default()
    }
}

/// A shared access token in the store, and the caller's openid.
fn wechat_can_be_asked(m: &mut Mocks) {
    m.access_tokens.expect_load_access_token().returning(|_| {
        Ok(Some(StoredAccessToken {
            token: AccessToken::new("AT"),
            use_until: NOW + 3600,
            fetches: 1,
        }))
    });
    m.users
        .expect_openid()
        .returning(|_, _| Ok(Some(OpenId::new("openid-1"))));
}

/// A 2×2 PNG, made by the image library the server decodes with.
fn tiny_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(2, 2, image::Rgb([9, 9, 9]))
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

#[tokio::test]
async fn an_upload_that_is_not_an_image_is_refused_before_anything_is_stored() {
    let m = Mocks::new();
    let (mut files, mut records) = (MockMediaStore::new(), MockAvatarStore::new());
    files.expect_put().never();
    records.expect_register_media().never();
    records.expect_attach_avatar().never();
    let service = m
        .builder()
        .media(Arc::new(files), Arc::new(records), media_settings())
        .build()
        .expect("built");
    let refused = service
        .upload_avatar(&caller_in_app(), b"<svg onload=alert(1)>".to_vec())
        .await;
    assert!(
        matches!(refused, Err(CoreError::InvalidImage(_))),
        "{refused:?}"
    );
    let big = vec![0u8; MediaSettings::default().limits.max_bytes + 1];
    let refused = service.upload_avatar(&caller_in_app(), big).await;
    assert!(
        matches!(refused, Err(CoreError::ImageTooLarge)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_upload_is_stored_checked_then_shown_under_its_public_url() {
    let mut m = Mocks::new();
    wechat_can_be_asked(&mut m);
    m.wechat
        .expect_media_check_async()
        .withf(|token, openid, url| {
            token.expose() == "AT"
                && openid.expose() == "openid-1"
                && url.starts_with("https://cdn.example/avatars/")
                && url.ends_with(".jpg")
        })
        .times(1)
        .returning(|_, _, _| Ok("trace-1".into()));
    let (mut files, mut records) = (MockMediaStore::new(), MockAvatarStore::new());
    let mut order = mockall::Sequence::new();
    records
        .expect_register_media()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _, _| Ok(()));
    files
        .expect_put()
        .withf(|file| file.content_type == "image/jpeg" && file.bytes.starts_with(&[0xff, 0xd8]))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
    records
        .expect_note_media_check()
        .withf(|_, trace, _| trace == "trace-1")
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _, _| Ok(false));
    records
        .expect_attach_avatar()
        .times(1)
        .in_sequence(&mut order)
        .returning(|id, _, url, _| {
            Ok(Some(User {
                avatar_url: Some(url.to_owned()),
                ..user(id)
            }))
        });
    // Collecting the replaced file: nothing unused here.
    records.expect_unused_media().returning(|_, _| Ok(vec![]));
    records.expect_forget_media().returning(|_| Ok(0));
    let service = m
        .builder()
        .media(Arc::new(files), Arc::new(records), media_settings())
        .content_checks(CHECKS_ON)
        .build()
        .expect("built");
    let shown = service
        .upload_avatar(&caller_in_app(), tiny_png())
        .await
        .expect("taken");
    assert!(
        shown
            .avatar_url
            .is_some_and(|url| url.starts_with("https://cdn.example/avatars/"))
    );
}

#[tokio::test]
async fn a_risky_nickname_is_refused_before_the_store_sees_it() {
    let mut m = Mocks::new();
    wechat_can_be_asked(&mut m);
    m.wechat
        .expect_msg_sec_check()
        .withf(|_, openid, text| openid.expose() == "openid-1" && text == "bad name")
        .times(1)
        .returning(|_, _, _| {
            Ok(ContentVerdict {
                suggest: Suggest::Risky,
                label: 20001,
            })
        });
    m.users.expect_update_profile().never();
    let service = m
        .builder()
        .content_checks(CHECKS_ON)
        .build()
        .expect("built");
    let edit = ProfileEdit {
        nick_name: Some(Some("bad name".into())),
        ..ProfileEdit::default()
    };
    assert!(matches!(
        service.update_profile(&caller_in_app(), edit).await,
        Err(CoreError::ContentRejected)
    ));
    assert_eq!(service.content_check_stats().risky, 1);
}

#[tokio::test]
async fn a_spent_quota_takes_nicknames_unchecked_and_pauses_the_apps_checks_for_the_minute() {
    let mut m = Mocks::new();
    wechat_can_be_asked(&mut m);
    m.wechat
        .expect_msg_sec_check()
        .times(1)
        .returning(|_, _, _| Err(WeChatError::QuotaExhausted));
    m.users
        .expect_update_profile()
        .times(2)
        .returning(|id, _, _| Ok(Some(user(id))));
    let clock = Arc::clone(&m.clock);
    let service = m
        .builder()
        .content_checks(CHECKS_ON)
        .build()
        .expect("built");
    let edit = || ProfileEdit {
        nick_name: Some(Some("小明".into())),
        ..ProfileEdit::default()
    };
    service
        .update_profile(&caller_in_app(), edit())
        .await
        .expect("taken unchecked: checks fail open");
    clock.advance(1);
    service
        .update_profile(&caller_in_app(), edit())
        .await
        .expect("not asked again this minute");
    let stats = service.content_check_stats();
    assert_eq!((stats.failed, stats.quota_paused), (1, 1));
}
