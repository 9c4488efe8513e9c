//! Uploads: declared limits, the checker's verdict on what S3 really holds, and who may
//! download.

use peyman_e2e::*;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

fn wav(seconds: u32) -> Vec<u8> {
    let byte_rate = 8000u32; // 8 kHz, 8-bit mono
    let data = byte_rate * seconds;
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0]);
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&byte_rate.to_le_bytes());
    w.extend_from_slice(&[1, 0, 8, 0]);
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data.to_le_bytes());
    w.resize(44 + data as usize, 0x80);
    w
}

#[tokio::test]
async fn a_good_file_becomes_ready_and_downloads_intact() {
    let api = Api::default();
    let owner = user("owner");
    let t = token(&owner);
    let id = api.upload(&t, "attachment", "application/pdf", PDF.len() as u64, PDF).await;
    let upload = api.decided_upload(&t, &id).await;
    assert_eq!(upload["status"], "ready", "{upload}");
    let bytes = reqwest::get(upload["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(&bytes[..], PDF);
}

#[tokio::test]
async fn the_real_type_decides_not_the_declared_one() {
    let api = Api::default();
    let t = token(&user("owner"));
    // A PNG declared as a PDF: moto stores it happily; the checker does not.
    let id = api.upload(&t, "attachment", "application/pdf", PNG.len() as u64, PNG).await;
    let upload = api.decided_upload(&t, &id).await;
    assert_eq!(
        (upload["status"].as_str(), upload["rejection"].as_str()),
        (Some("rejected"), Some("content_type_mismatch"))
    );
    assert!(upload["download_url"].is_null(), "a rejected file is never served");
}

#[tokio::test]
async fn a_file_larger_than_declared_is_refused_by_the_link_and_by_the_checker() {
    let api = Api::default();
    let owner = user("owner");
    let t = token(&owner);
    let mut big = PDF.to_vec();
    big.extend(std::iter::repeat_n(b' ', 1000));
    // The link signs the declared length: S3 refuses any other.
    let declared = api
        .post("/v1/uploads", &t, json!({ "kind": "attachment", "file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": PDF.len() }))
        .await;
    let id = declared.ok(201)["upload_id"].as_str().unwrap().to_owned();
    let link = declared.body["upload"]["url"].as_str().unwrap().to_owned();
    let refused =
        reqwest::Client::new().put(&link).header("content-type", "application/pdf").body(big.clone()).send().await;
    assert_eq!(refused.unwrap().status(), 403, "a length other than the signed one");
    // Bytes that reach the key anyway (a writer with the bucket's own rights) are
    // measured by the checker, not believed.
    let aws = Aws::connect().await;
    let key = peyman::adapters::s3::upload_object(&owner, &id);
    aws.s3
        .put_object()
        .bucket(&aws.bucket)
        .key(&key)
        .content_type("application/pdf")
        .body(big.into())
        .send()
        .await
        .unwrap();
    assert_eq!(api.decided_upload(&t, &id).await["rejection"], "size_mismatch");
}

#[tokio::test]
async fn a_voice_note_must_be_allowed_audio_of_at_most_five_minutes() {
    let api = Api::default();
    let t = token(&user("owner"));
    let not_audio = api.upload(&t, "voice_note", "audio/mpeg", PDF.len() as u64, PDF).await;
    assert_eq!(api.decided_upload(&t, &not_audio).await["rejection"], "not_allowed_audio");
    let short = wav(2);
    let ok = api.upload(&t, "voice_note", "audio/wav", short.len() as u64, &short).await;
    assert_eq!(api.decided_upload(&t, &ok).await["status"], "ready");
    let long = wav(301);
    let too_long = api.upload(&t, "voice_note", "audio/wav", long.len() as u64, &long).await;
    assert_eq!(api.decided_upload(&t, &too_long).await["rejection"], "voice_note_too_long");
}

#[tokio::test]
async fn an_upload_link_writes_its_key_once_and_the_checked_bytes_are_served() {
    let api = Api::default();
    let owner = user("owner");
    let t = token(&owner);
    let declared = api
        .post("/v1/uploads", &t, json!({ "kind": "attachment", "file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": PDF.len() }))
        .await;
    let link = &declared.ok(201)["upload"];
    let id = declared.body["upload_id"].as_str().unwrap().to_owned();
    let put = |body: Vec<u8>| {
        let mut put = reqwest::Client::new().put(link["url"].as_str().unwrap()).body(body);
        for (name, value) in link["headers"].as_object().unwrap() {
            if name != "content-length" {
                put = put.header(name, value.as_str().unwrap());
            }
        }
        put.send()
    };
    assert!(put(PDF.to_vec()).await.unwrap().status().is_success());
    assert_eq!(api.decided_upload(&t, &id).await["status"], "ready");
    // The link is still within its time: something else, of the signed length and type,
    // under the same key. S3 refuses it (the link signs If-None-Match: *).
    let mut other = b"MZ\x90\0 not a pdf".to_vec();
    other.resize(PDF.len(), b' ');
    assert_eq!(put(other).await.unwrap().status(), 412, "the key holds the checked file already");
    let aws = Aws::connect().await;
    let key = peyman::adapters::s3::upload_object(&owner, &id);
    let versions = aws.s3.list_object_versions().bucket(&aws.bucket).prefix(&key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "one version: the one that was checked");
    let upload = api.get(&format!("/v1/uploads/{id}"), &t).await;
    let bytes = reqwest::get(upload.ok(200)["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(&bytes[..], PDF, "the download is the checked version");
}

#[tokio::test]
async fn declarations_outside_the_limits_are_refused_and_nothing_is_stored() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let owner = user("owner");
    let t = token(&owner);
    let cases = [
        (
            json!({ "kind": "voice_note", "file_name": "v.ogg", "content_type": "audio/ogg", "size_bytes": 10 * 1024 * 1024 + 1 }),
            422,
            "file_too_large",
            "size_bytes",
        ),
        (
            json!({ "kind": "attachment", "file_name": "a.bin", "content_type": "application/pdf", "size_bytes": 50 * 1024 * 1024 + 1 }),
            422,
            "file_too_large",
            "size_bytes",
        ),
        (
            json!({ "kind": "attachment", "file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 0 }),
            422,
            "empty_file",
            "size_bytes",
        ),
        (
            json!({ "kind": "attachment", "file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": -1 }),
            422,
            "invalid_type",
            "size_bytes",
        ),
        (
            json!({ "kind": "voice_note", "file_name": "v.png", "content_type": "image/png", "size_bytes": 10 }),
            422,
            "unsupported_content_type",
            "content_type",
        ),
        (
            json!({ "kind": "attachment", "file_name": "x.exe", "content_type": "application/x-msdownload", "size_bytes": 10 }),
            422,
            "unsupported_content_type",
            "content_type",
        ),
        (
            json!({ "kind": "attachment", "file_name": "../../etc/passwd", "content_type": "text/plain", "size_bytes": 10 }),
            422,
            "invalid_file_name",
            "file_name",
        ),
        (
            json!({ "kind": "attachment", "file_name": "", "content_type": "text/plain", "size_bytes": 10 }),
            422,
            "empty",
            "file_name",
        ),
        (
            json!({ "kind": "video", "file_name": "a", "content_type": "text/plain", "size_bytes": 10 }),
            422,
            "invalid_value",
            "kind",
        ),
        (
            json!({ "kind": "attachment", "file_name": "a", "content_type": "text/plain", "size_bytes": 10, "owner_id": "x" }),
            422,
            "unknown_field",
            "owner_id",
        ),
    ];
    for (body, status, code, field) in &cases {
        let r = api.post("/v1/uploads", &t, body.clone()).await;
        assert_eq!(r.problem(*status, code)["field"], *field, "{body}");
    }
    assert!(aws.items_where("owner_id", &owner).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn who_may_see_an_upload() {
    let api = Api::default();
    let owner = user("owner");
    let id = api.upload(&token(&owner), "attachment", "image/png", PNG.len() as u64, PNG).await;
    api.decided_upload(&token(&owner), &id).await;
    let path = format!("/v1/uploads/{id}");
    assert!(api.get(&path, &token(&owner)).await.ok(200)["download_url"].is_string());
    assert!(api.get(&path, &support_token(&user("agent"))).await.ok(200)["download_url"].is_string());
    let stranger = api.get(&path, &token(&user("stranger"))).await;
    stranger.problem(404, "not_found");
    assert!(!stranger.text.contains(&owner));
    assert_eq!(api.send("GET", &path, None, None, &[]).await.status, 401);
    api.get(&format!("/v1/uploads/{}", ulid::Ulid::new()), &token(&owner)).await.problem(404, "not_found");
    api.get("/v1/uploads/xyz", &token(&owner)).await.problem(400, "invalid_id");
}
