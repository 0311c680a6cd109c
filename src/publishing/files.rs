//! Attachments' bytes: an upload read from a multipart form (refused as soon as it is known to
//! be too large), its kind found from its bytes, and the file kept under the attachment
//! directory by its SHA-256. A name never becomes a path: nothing a client sends can place a
//! file anywhere else.

use std::path::{Path, PathBuf};

use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult, ErrorCode};

/// The kinds of file an article may carry: found from the bytes, with the extensions a name
/// of that kind may have.
const KINDS: &[(&str, &[&str])] = &[
    ("application/pdf", &["pdf"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("image/gif", &["gif"]),
    ("image/webp", &["webp"]),
    ("application/msword", &["doc"]),
    ("application/vnd.ms-excel", &["xls"]),
    ("application/vnd.ms-powerpoint", &["ppt"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &["pptx"],
    ),
    ("application/vnd.oasis.opendocument.text", &["odt"]),
    ("application/vnd.oasis.opendocument.spreadsheet", &["ods"]),
    ("application/vnd.oasis.opendocument.presentation", &["odp"]),
];

/// What the form sent: the file's name and bytes, and its other (short) fields.
#[derive(Debug, Default)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    pub fields: Vec<(String, String)>,
}

impl Upload {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Whether the request says it carries a `multipart/form-data` body.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// A kept file as a download: the type found at upload, its original name, no sniffing
/// (the bytes are read off the request thread).
pub async fn download(
    dir: PathBuf,
    sha256: String,
    content_type: &str,
    name: &str,
) -> AppResult<actix_web::HttpResponse> {
    let bytes = web::block(move || read(&dir, &sha256))
        .await
        .map_err(AppError::internal)??;
    Ok(actix_web::HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(disposition(name))
        .insert_header(("Content-Security-Policy", "sandbox"))
        .insert_header(("Cache-Control", "private, max-age=300"))
        .body(bytes))
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::bad_request("file", message)
}

/// Reads a `multipart/form-data` body: one part named `file`, and short text fields (a web
/// form's `csrf`). Over `limit` bytes it stops reading and answers 413.
pub async fn receive(
    headers: &HeaderMap,
    payload: web::Payload,
    limit: usize,
) -> AppResult<Upload> {
    if !is_multipart(headers) {
        return Err(AppError::bad_request(
            "Content-Type",
            "请以 multipart/form-data 上传文件，文件字段名为 file (send multipart/form-data with a `file` part)",
        ));
    }
    // The form's own fields add a few hundred bytes to the file.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64 + 64 * 1024) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let mut form = Multipart::new(headers, payload);
    let mut upload = Upload::default();
    let mut seen_file = false;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(|e| bad(e.to_string()))?;
        let (name, filename) = match part.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_owned(),
                cd.get_filename().map(str::to_owned),
            ),
            None => (String::new(), None),
        };
        if name == "file" {
            if seen_file {
                return Err(bad("一次上传一个文件 (one file per upload)"));
            }
            seen_file = true;
            upload.name = filename.unwrap_or_default();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(|e| bad(e.to_string()))?;
                if upload.bytes.len() + chunk.len() > limit {
                    return Err(AppError::PayloadTooLarge { limit });
                }
                upload.bytes.extend_from_slice(&chunk);
            }
        } else {
            if upload.fields.len() >= 8 {
                return Err(AppError::bad_request(
                    &name,
                    "表单字段过多 (too many fields)",
                ));
            }
            let mut value = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(|e| bad(e.to_string()))?;
                if value.len() + chunk.len() > 4096 {
                    return Err(AppError::bad_request(
                        &name,
                        "表单字段过长 (field too long)",
                    ));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value)
                .map_err(|_| AppError::bad_request(&name, "不是 UTF-8 文本 (not UTF-8)"))?;
            upload.fields.push((name, value));
        }
    }
    if !seen_file {
        return Err(bad("请选择要上传的文件 (no `file` part)"));
    }
    if upload.bytes.is_empty() {
        return Err(AppError::invalid("file", "文件是空的 (the file is empty)"));
    }
    Ok(upload)
}

/// The name as shown and offered for download: its last path component, without control
/// characters, at most 120 characters with its extension kept.
pub fn clean_name(raw: &str) -> AppResult<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let name = name.trim().trim_start_matches('.').trim().to_owned();
    if name.is_empty() {
        return Err(AppError::invalid(
            "file",
            "文件名不能为空 (the file has no usable name)",
        ));
    }
    if name.chars().count() <= 120 {
        return Ok(name);
    }
    let ext = extension(&name)
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let stem: String = name.chars().take(120 - ext.chars().count()).collect();
    Ok(format!("{stem}{ext}"))
}

fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 10).then(|| ext.to_ascii_lowercase())
}

/// The file's type, from its bytes, if an article may carry it and its name says the same.
pub fn kind_of(name: &str, bytes: &[u8]) -> AppResult<&'static str> {
    let refused = |message: String| AppError::rule(ErrorCode::AttachmentType, "file", message);
    let allowed = "PDF、Word、Excel、PowerPoint、WPS/OpenDocument 文档或 PNG/JPEG/GIF/WebP 图片";
    let ext = extension(name);
    let found = infer::get(bytes).map(|t| t.mime_type());
    let Some(&(mime, exts)) = found.and_then(|m| KINDS.iter().find(|(k, _)| *k == m)) else {
        return Err(refused(match ext {
            Some(e) if KINDS.iter().any(|(_, x)| x.contains(&e.as_str())) => format!(
                "文件内容不是它名称所说的 .{e} 文件，可能已损坏或被改了扩展名 (the bytes are not a .{e} file)"
            ),
            _ => format!("只能上传{allowed} (this kind of file is not accepted)"),
        }));
    };
    match ext {
        Some(e) if exts.contains(&e.as_str()) => Ok(mime),
        _ => Err(refused(format!(
            "文件内容是 .{} 文件，但名称的扩展名不符，请改正文件名 (the name's extension does not match the bytes)",
            exts[0]
        ))),
    }
}

/// The hex SHA-256 of the bytes: the file's name on disk.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a file of this digest lives: `dir/ab/abcdef…` (a digest is 64 hex characters,
/// checked, so it can never climb out of `dir`).
pub fn path_of(dir: &Path, sha256: &str) -> AppResult<PathBuf> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::internal(anyhow::anyhow!("bad digest {sha256:?}")));
    }
    Ok(dir.join(&sha256[..2]).join(sha256))
}

/// Keeps the bytes under `dir` by their digest (once: the same file twice is stored once).
/// Written to a temporary name and renamed, so a reader never sees half a file.
pub fn store(dir: &Path, sha256: &str, bytes: &[u8]) -> AppResult<()> {
    let path = path_of(dir, sha256)?;
    if path.exists() {
        return Ok(());
    }
    let folder = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(folder).map_err(AppError::internal)?;
    let temp = folder.join(format!(".{sha256}.{}", crate::auth::tokens::random()));
    std::fs::write(&temp, bytes).map_err(AppError::internal)?;
    std::fs::rename(&temp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        AppError::internal(e)
    })
}

/// The bytes kept under this digest.
pub fn read(dir: &Path, sha256: &str) -> AppResult<Vec<u8>> {
    let path = path_of(dir, sha256)?;
    std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AppError::NotFound { what: "attachment" },
        _ => AppError::internal(e),
    })
}

/// `attachment; filename="…"; filename*=UTF-8''…`: the original name for every browser, with
/// an ASCII stand-in for old ones.
pub fn disposition(name: &str) -> header::ContentDisposition {
    use header::{Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue};
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_paths_and_controls() {
        assert_eq!(clean_name("../../etc/passwd.pdf").unwrap(), "passwd.pdf");
        assert_eq!(clean_name("C:\\temp\\..\\报告.docx").unwrap(), "报告.docx");
        assert_eq!(clean_name("a\u{0}b\r\n.pdf").unwrap(), "ab.pdf");
        assert_eq!(clean_name("evil\u{202e}fdp.exe").unwrap(), "evilfdp.exe");
        assert!(clean_name("../").is_err());
        assert!(clean_name("...").is_err());
        let long = format!("{}.pdf", "长".repeat(200));
        let cut = clean_name(&long).unwrap();
        assert_eq!(cut.chars().count(), 120);
        assert!(cut.ends_with(".pdf"));
    }

    #[test]
    fn the_bytes_decide_the_type() {
        let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
        assert_eq!(kind_of("a.pdf", pdf).unwrap(), "application/pdf");
        assert_eq!(kind_of("A.PDF", pdf).unwrap(), "application/pdf");
        // A script named .pdf, a PDF named .exe, a PDF without an extension.
        assert!(kind_of("a.pdf", b"<script>alert(1)</script>").is_err());
        assert!(kind_of("a.exe", pdf).is_err());
        assert!(kind_of("a", pdf).is_err());
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(kind_of("图.png", png).unwrap(), "image/png");
        assert!(kind_of("图.jpg", png).is_err());
    }

    #[test]
    fn digests_never_leave_the_directory() {
        let dir = Path::new("/srv/att");
        assert!(path_of(dir, "../../etc/passwd").is_err());
        let d = digest(b"x");
        assert_eq!(path_of(dir, &d).unwrap(), dir.join(&d[..2]).join(&d));
    }
}
