//! The `wxa_media_check` push: the verdict of a `media_check_async`, read from a push's fields.
//! v2 pushes carry `result: {suggest, label}`; pushes of apps still on v1 carry `isrisky` and
//! `status_code`, and are read too. Pure, no HTTP.

use wxlogin_domain::{ContentVerdict, Suggest};

use crate::PushFields;
use crate::content_security::{NO_LABEL, label_from_text, suggest_from};

/// The `Event` of a media check's push.
pub const MEDIA_CHECK_EVENT: &str = "wxa_media_check";

/// The `status_code` of a check whose `media_url` WeChat could not download.
pub const MEDIA_UNDOWNLOADABLE: i64 = -1008;

/// What became of a media check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaCheckOutcome {
    /// WeChat looked at the image: its verdict (`label` is [`NO_LABEL`] from a v1 push).
    Checked(ContentVerdict),
    /// WeChat could not download `media_url` (`status_code` -1008): nothing was found, and
    /// nothing was looked at either.
    Undownloadable,
}

/// A `wxa_media_check` push, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaCheckResult {
    /// The push's `appid`, when it names one: a push naming another app is not this app's.
    pub appid: Option<String>,
    /// The `trace_id` `media_check_async` answered: what to match the push by.
    pub trace_id: String,
    /// The verdict.
    pub outcome: MediaCheckOutcome,
}

impl MediaCheckResult {
    /// Reads a `wxa_media_check` push from its fields ([`parse_push_body`](crate::parse_push_body)
    /// of the decrypted message). `None` when it is another event, or has no `trace_id`, or no
    /// outcome can be read: a `status_code` of -1008 (could not download; it wins over a
    /// `result` sent with it), else v2's `result.suggest` (`pass`, `review`, `risky`) with
    /// `result.label` (a number or a string; [`NO_LABEL`] when absent or unreadable), else
    /// v1's `isrisky` (1 risky, 0 pass).
    pub fn from_fields(fields: &PushFields) -> Option<Self> {
        if fields.get("Event").map(str::trim) != Some(MEDIA_CHECK_EVENT) {
            return None;
        }
        let trace_id = fields
            .get("trace_id")
            .map(str::trim)
            .filter(|t| !t.is_empty())?
            .to_owned();
        let appid = fields
            .get("appid")
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        Some(Self {
            appid,
            trace_id,
            outcome: outcome(fields)?,
        })
    }
}

fn outcome(fields: &PushFields) -> Option<MediaCheckOutcome> {
    let number = |name: &str| fields.get(name).and_then(label_from_text);
    if number("status_code") == Some(MEDIA_UNDOWNLOADABLE) {
        return Some(MediaCheckOutcome::Undownloadable);
    }
    if let Some(suggest) = fields.get("result.suggest") {
        return Some(MediaCheckOutcome::Checked(ContentVerdict {
            suggest: suggest_from(suggest)?,
            label: number("result.label").unwrap_or(NO_LABEL),
        }));
    }
    let suggest = match number("isrisky")? {
        0 => Suggest::Pass,
        1 => Suggest::Risky,
        _ => return None,
    };
    Some(MediaCheckOutcome::Checked(ContentVerdict {
        suggest,
        label: NO_LABEL,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_push_body;

    fn read(body: &str) -> Option<MediaCheckResult> {
        MediaCheckResult::from_fields(&parse_push_body(body.as_bytes()).expect("a push body"))
    }

    fn checked(suggest: Suggest, label: i64) -> MediaCheckOutcome {
        MediaCheckOutcome::Checked(ContentVerdict { suggest, label })
    }

    const JSON_V2: &str = r#"{"ToUserName":"gh_38cc49f9733b","FromUserName":"oH1fu0FdHqpToe2T6gBj0WyB8iS1","CreateTime":1626959646,"MsgType":"event","Event":"wxa_media_check","appid":"wx8f16a5e2d5c2b8ad","trace_id":"60f96f1d-3845297a-1976a3ae","version":2,"detail":[{"strategy":"content_model","errcode":0,"suggest":"risky","label":20002,"prob":90}],"errcode":0,"errmsg":"ok","result":{"suggest":"risky","label":20002}}"#;

    #[test]
    fn a_json_v2_push_gives_its_trace_id_appid_and_verdict() {
        assert_eq!(
            read(JSON_V2),
            Some(MediaCheckResult {
                appid: Some("wx8f16a5e2d5c2b8ad".into()),
                trace_id: "60f96f1d-3845297a-1976a3ae".into(),
                outcome: checked(Suggest::Risky, 20002),
            })
        );
    }

    #[test]
    fn an_xml_v2_push_reads_the_same() {
        let xml = "<xml><ToUserName><![CDATA[gh_38cc49f9733b]]></ToUserName><FromUserName><![CDATA[oH1fu0FdHqpToe2T6gBj0WyB8iS1]]></FromUserName><CreateTime>1626959646</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[wxa_media_check]]></Event><appid><![CDATA[wx8f16a5e2d5c2b8ad]]></appid><trace_id><![CDATA[60f96f1d-3845297a-1976a3ae]]></trace_id><version>2</version><detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode><suggest><![CDATA[pass]]></suggest><label>100</label><prob>90</prob></detail><errcode>0</errcode><errmsg><![CDATA[ok]]></errmsg><result><suggest><![CDATA[risky]]></suggest><label>20002</label></result></xml>";
        let result = read(xml).expect("a media check");
        assert_eq!(result.trace_id, "60f96f1d-3845297a-1976a3ae");
        assert_eq!(result.appid.as_deref(), Some("wx8f16a5e2d5c2b8ad"));
        assert_eq!(
            result.outcome,
            checked(Suggest::Risky, 20002),
            "the verdict is result's, not detail's"
        );
    }

    #[test]
    fn pass_review_and_risky_are_told_apart_with_the_label_a_number_or_a_string() {
        let push = |result: &str| {
            format!(
                r#"{{"MsgType":"event","Event":"wxa_media_check","appid":"wx1","trace_id":"t1","version":2,"result":{result}}}"#
            )
        };
        let outcome = |result: &str| read(&push(result)).map(|r| r.outcome);
        assert_eq!(
            outcome(r#"{"suggest":"pass","label":"100"}"#),
            Some(checked(Suggest::Pass, 100))
        );
        assert_eq!(
            outcome(r#"{"suggest":"pass","label":100}"#),
            Some(checked(Suggest::Pass, 100))
        );
        assert_eq!(
            outcome(r#"{"suggest":"review","label":21000}"#),
            Some(checked(Suggest::Review, 21000))
        );
        assert_eq!(
            outcome(r#"{"suggest":"risky","label":"20006"}"#),
            Some(checked(Suggest::Risky, 20006))
        );
        assert_eq!(
            outcome(r#"{"suggest":"RISKY"}"#),
            Some(checked(Suggest::Risky, NO_LABEL))
        );
        assert_eq!(outcome(r#"{"suggest":"block","label":100}"#), None);
    }

    #[test]
    fn a_v1_push_is_read_by_isrisky_and_status_code() {
        let v1 = |rest: &str| {
            format!(
                r#"{{"ToUserName":"gh_1","FromUserName":"o1","CreateTime":1,"MsgType":"event","Event":"wxa_media_check","appid":"wx1","trace_id":"t1","isrisky":{rest},"extra_info_json":""}}"#
            )
        };
        let outcome = |rest: &str| read(&v1(rest)).map(|r| r.outcome);
        assert_eq!(
            outcome(r#"1,"status_code":0"#),
            Some(checked(Suggest::Risky, NO_LABEL))
        );
        assert_eq!(
            outcome(r#"0,"status_code":0"#),
            Some(checked(Suggest::Pass, NO_LABEL))
        );
        assert_eq!(
            outcome(r#"0,"status_code":-1008"#),
            Some(MediaCheckOutcome::Undownloadable),
            "not downloaded is not a pass"
        );
        assert_eq!(outcome(r#"7,"status_code":0"#), None);
    }

    #[test]
    fn an_undownloadable_url_wins_over_the_result_sent_with_it() {
        let push = r#"{"MsgType":"event","Event":"wxa_media_check","appid":"wx1","trace_id":"t1","version":2,"status_code":-1008,"result":{"suggest":"review","label":100}}"#;
        assert_eq!(
            read(push).map(|r| r.outcome),
            Some(MediaCheckOutcome::Undownloadable)
        );
    }

    #[test]
    fn a_push_without_a_trace_id_or_of_another_event_is_not_a_media_check() {
        let without_trace = r#"{"MsgType":"event","Event":"wxa_media_check","appid":"wx1","trace_id":" ","result":{"suggest":"risky","label":20002}}"#;
        assert_eq!(read(without_trace), None);
        let no_trace = r#"{"MsgType":"event","Event":"wxa_media_check","appid":"wx1","result":{"suggest":"risky","label":20002}}"#;
        assert_eq!(read(no_trace), None);
        let other_event = r#"{"MsgType":"event","Event":"user_info_modified","trace_id":"t1","result":{"suggest":"risky"}}"#;
        assert_eq!(read(other_event), None);
        let no_verdict =
            r#"{"MsgType":"event","Event":"wxa_media_check","trace_id":"t1","errcode":-1}"#;
        assert_eq!(read(no_verdict), None);
    }

    #[test]
    fn a_push_without_an_appid_is_read_with_none() {
        let push = r#"{"Event":"wxa_media_check","trace_id":"t1","result":{"suggest":"pass","label":100}}"#;
        assert_eq!(read(push).and_then(|r| r.appid), None);
    }
}
