//! The decrypt path of `/api/me/userinfo`: signature check and AES-128-CBC decryption, on
//! WeChat's own vector V1. `cargo bench -p wxlogin-wechat-protocol`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wxlogin_domain::SessionKey;
use wxlogin_wechat_protocol::{decrypt_open_data, verify_raw_data};

const KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
const DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
const RAW: &str = r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}"#;

fn open_data(c: &mut Criterion) {
    let key = SessionKey::new(KEY);
    c.bench_function("decrypt_open_data (V1)", |b| {
        b.iter(|| decrypt_open_data(black_box(DATA), black_box(IV), &key, "wx4f4bc4dec97d474b"))
    });
    c.bench_function("verify_raw_data", |b| {
        b.iter(|| verify_raw_data(black_box(RAW), black_box("0"), &key))
    });
}

criterion_group!(benches, open_data);
criterion_main!(benches);
