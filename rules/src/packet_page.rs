//! The packet's `index.html`: the whole case for people, readable offline in any browser
//! with no script and nothing fetched. Persian text runs right to left; every time is
//! shown in UTC and in the Solar Hijri calendar with Persian digits; Rial amounts are
//! grouped; every file is a link into the packet, and voice notes have a player.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Datelike, Timelike, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::delivery::Delivery;
use crate::dispute::{Dispute, Statement};
use crate::message::Message;
use crate::money::Money;
use crate::order::Order;
use crate::payment::{Payment, Refund};
use crate::timeline::Event;

/// One file as the packet holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketFile {
    pub upload_id: String,
    pub file_name: String,
    pub content_type: String,
    pub voice_note: bool,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub problem: Option<String>,
}

/// Everything the page shows.
pub struct Sheet<'a> {
    pub packet_id: &'a str,
    pub built_at: DateTime<Utc>,
    pub dispute: &'a Dispute,
    pub statements: &'a [Statement],
    pub order: &'a Order,
    pub terms_hash_verified: bool,
    /// `offer`, `order`, `dispute`, each with its events.
    pub timelines: &'a [(String, Vec<Event>)],
    pub deliveries: &'a [Delivery],
    pub payments: &'a [Payment],
    pub refunds: &'a [Refund],
    pub ledger: &'a [crate::ledger::Entry],
    /// The amendments in force, in the chain's order.
    pub amendments: &'a [crate::amendment::Amendment],
    /// The buyer's request the offer answered, if it answered one.
    pub request: Option<&'a crate::request::Request>,
    /// By upload id.
    pub files: &'a BTreeMap<String, PacketFile>,
}

/// Latin digits as Persian ones.
pub fn persian_digits(text: &str) -> String {
    jalali_rs::latin_digits_to_persian(text)
}

/// A moment as people in Iran read it: the Solar Hijri date and the clock in Tehran
/// (Asia/Tehran), with Persian digits: `۱۴۰۵/۰۹/۰۸ ۱۷:۳۳` for 14:03 UTC. The date is
/// Tehran's too, so between 20:30 and 24:00 UTC it is already the next day.
pub fn jalali(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&chrono_tz::Asia::Tehran);
    let (y, m, d) = jalali_rs::gregorian_to_jalali(local.year(), local.month() as usize, local.day() as i32);
    persian_digits(&format!("{y:04}/{m:02}/{d:02} {:02}:{:02}", local.hour(), local.minute()))
}

/// The same moment as people write it in UTC: `2026-11-29 14:03 UTC`.
pub fn gregorian(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An amount for people: Rials grouped in threes with Persian digits (`۱۲٬۰۰۰٬۰۰۰ ریال`);
/// any other currency in its smallest unit with its code.
pub fn amount(money: &Money) -> String {
    let digits = money.amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('٬');
        }
        grouped.push(c);
    }
    let sign = if money.amount < 0 { "-" } else { "" };
    if money.currency == "IRR" {
        format!("{sign}{} ریال", persian_digits(&grouped))
    } else {
        format!("{sign}{} {} (smallest unit)", grouped.replace('٬', ","), money.currency)
    }
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative link to a file of the packet (its path percent-encoded, slashes kept).
fn href(path: &str) -> String {
    const PATH: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`');
    utf8_percent_encode(path, PATH).to_string()
}

fn when(at: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\"><span class=\"jalali\">{} (به وقت تهران)</span> <span class=\"utc\" dir=\"ltr\">{}</span></time>",
        at.to_rfc3339(),
        jalali(at),
        gregorian(at)
    )
}

fn file_link(file: &PacketFile) -> String {
    let mut out = String::new();
    let link = href(&file.path);
    let _ = write!(
        out,
        "<li><a href=\"{link}\">{}</a> <span class=\"size\">({} بایت)</span>",
        esc(&file.file_name),
        persian_digits(&file.size.to_string())
    );
    if file.voice_note {
        let _ = write!(
            out,
            " <audio controls preload=\"none\" src=\"{link}\"><source src=\"{link}\" type=\"{}\"></audio>",
            esc(&file.content_type)
        );
    }
    if let Some(problem) = &file.problem {
        let _ = write!(out, " <strong class=\"problem\">مشکل: {}</strong>", esc(problem));
    }
    out.push_str("</li>");
    out
}

fn files_list(ids: &[&String], files: &BTreeMap<String, PacketFile>) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let mut out = String::from("<ul class=\"files\">");
    for id in ids {
        match files.get(id.as_str()) {
            Some(file) => out.push_str(&file_link(file)),
            None => {
                let _ = write!(out, "<li>{} <strong class=\"problem\">(not in the packet)</strong></li>", esc(id));
            }
        }
    }
    out.push_str("</ul>");
    out
}

const STYLE: &str = "body{font-family:'Noto Sans Arabic','Noto Naskh Arabic',Vazirmatn,Tahoma,sans-serif;\
margin:2em;line-height:1.7}table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;\
padding:.3em .5em;vertical-align:top}.hash,.utc,code{font-family:monospace;font-size:.85em}\
.problem{color:#b00}section{margin-bottom:2em}";

/// The page.
/// The page around its messages: the builder writes `head`, then each message's
/// [`message_article`] as it reads them page by page, then `tail`, so a conversation of
/// any length is never held whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub head: String,
    pub tail: String,
}

/// One message as the page shows it: who (buyer or seller of `order`), when, its text and
/// its files.
pub fn message_article(m: &Message, order: &Order, files: &BTreeMap<String, PacketFile>) -> String {
    let sender = if m.sender_id == order.buyer_id { "buyer" } else { "seller" };
    format!(
        "<article><h3>{} — {}</h3><p>{}</p>{}</article>",
        role(sender),
        when(m.sent_at),
        esc(m.text.as_deref().unwrap_or_default()),
        files_list(&m.attachment_upload_ids.iter().chain(&m.voice_note_upload_id).collect::<Vec<_>>(), files)
    )
}

pub fn render(sheet: &Sheet) -> Page {
    let order = sheet.order;
    let terms = &order.terms;
    let dispute = sheet.dispute;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"fa\" dir=\"rtl\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>پروندهٔ اختلاف {id}</title>\
<style>{STYLE}</style></head><body><main id=\"case\" dir=\"rtl\">\
<h1>پروندهٔ اختلاف سفارش <bdi>{order_id}</bdi></h1>\
<p>بستهٔ <bdi class=\"hash\">{packet}</bdi>، ساخته‌شده در {built}</p>",
        id = esc(&dispute.dispute_id),
        order_id = esc(&order.order_id),
        packet = esc(sheet.packet_id),
        built = when(sheet.built_at),
    );

    let problems: Vec<&PacketFile> = sheet.files.values().filter(|f| f.problem.is_some()).collect();
    if !problems.is_empty() {
        h.push_str("<section id=\"problems\"><h2 class=\"problem\">فایل‌های مشکل‌دار</h2><ul>");
        for file in problems {
            h.push_str(&file_link(file));
        }
        h.push_str("</ul></section>");
    }

    // The dispute.
    let _ = write!(
        h,
        "<section id=\"dispute\"><h2>اختلاف</h2><table>\
<tr><th>علت</th><td><code>{reason}</code></td></tr>\
<tr><th>گشوده به دست</th><td>{by} <bdi>{opener}</bdi></td></tr>\
<tr><th>زمان</th><td>{at}</td></tr>\
<tr><th>وضعیت</th><td><code>{state}</code></td></tr>\
<tr><th>شرح</th><td><p>{text}</p>{files}</td></tr>",
        reason = esc(&wire_name(dispute.reason)),
        by = role(&format!("{:?}", dispute.opened_by).to_lowercase()),
        opener = esc(&dispute.opener_id),
        at = when(dispute.created_at),
        state = esc(&format!("{:?}", dispute.state).to_lowercase()),
        text = esc(&dispute.description),
        files = files_list(
            &dispute.files.attachment_upload_ids.iter().chain(&dispute.files.voice_note_upload_id).collect::<Vec<_>>(),
            sheet.files
        ),
    );
    if let Some(resolution) = &dispute.resolution {
        let _ = write!(
            h,
            "<tr><th>رأی</th><td><code>{}</code>{} — {} ({})</td></tr>",
            esc(&wire_name(resolution.decision)),
            resolution.refund_amount.as_ref().map(|m| format!(" {}", amount(m))).unwrap_or_default(),
            esc(&resolution.note),
            when(resolution.decided_at)
        );
    }
    h.push_str("</table></section>");

    // The contract, as accepted.
    let _ = write!(
        h,
        "<section id=\"contract\"><h2>قرارداد (پیشنهاد پذیرفته‌شده)</h2><table>\
<tr><th>عنوان</th><td>{title}</td></tr><tr><th>شرح</th><td>{description}</td></tr>\
<tr><th>مبلغ</th><td class=\"amount\">{price}</td></tr>\
<tr><th>مدت تحویل</th><td>{days} روز</td></tr>\
<tr><th>دفعات بازبینی</th><td>{revisions}</td></tr>\
<tr><th>انقضای پیشنهاد</th><td>{expires}</td></tr>\
<tr><th>هش شرایط</th><td><code class=\"hash\" id=\"terms-hash\">{hash}</code> {verified}</td></tr></table>",
        title = esc(&terms.title),
        description = esc(&terms.description),
        price = amount(&terms.price),
        days = persian_digits(&terms.delivery_days.to_string()),
        revisions = persian_digits(&terms.revisions_included.to_string()),
        expires = when(terms.expires_at),
        hash = esc(&order.terms_hash),
        verified = if sheet.terms_hash_verified {
            "(درست است)"
        } else {
            "<strong class=\"problem\">(نادرست)</strong>"
        },
    );
    if !terms.stages.is_empty() {
        h.push_str("<h3>مرحله‌ها</h3><ol id=\"stages\">");
        for stage in &terms.stages {
            let _ = write!(h, "<li><strong>{}</strong>", esc(&stage.title));
            if let Some(a) = stage.amount {
                let _ = write!(h, " — {}", amount(&Money { amount: a, currency: terms.price.currency.clone() }));
            }
            if let Some(days) = stage.days {
                let _ = write!(h, " — {} روز", persian_digits(&days.to_string()));
            }
            h.push_str("<ul>");
            for deliverable in &stage.deliverables {
                let _ = write!(h, "<li>{}</li>", esc(deliverable));
            }
            h.push_str("</ul></li>");
        }
        h.push_str("</ol>");
    }
    if !terms.special_conditions.is_empty() {
        h.push_str("<h3>شرایط ویژه</h3><ul>");
        for condition in &terms.special_conditions {
            let _ = write!(h, "<li>{}</li>", esc(condition));
        }
        h.push_str("</ul>");
    }
    // Each amendment that took effect: what it changed, its terms in force and its hash.
    if !sheet.amendments.is_empty() {
        h.push_str("<h3>اصلاحیه‌ها</h3><ol id=\"amendments\">");
        for a in sheet.amendments {
            let mut changed = Vec::new();
            if let Some(extra) = &a.changes.extra_days {
                changed.push(format!("{} روز بیشتر", persian_digits(&extra.days.to_string())));
            }
            if let Some(extra) = a.changes.extra_revisions {
                changed.push(format!("{} بازبینی بیشتر", persian_digits(&extra.to_string())));
            }
            if let Some(lower) = &a.changes.lower_price {
                changed.push(format!(
                    "مرحلهٔ {} به اندازهٔ {} ارزان‌تر",
                    persian_digits(&lower.stage.to_string()),
                    amount(&lower.by)
                ));
            }
            let _ = write!(
                h,
                "<li>{} — به پیشنهاد {}، پذیرفته در {} — مبلغ {}، {} روز، {} بازبینی — <code class=\"hash\">{}</code></li>",
                esc(&changed.join("، ")),
                role(&format!("{:?}", a.proposed_by).to_lowercase()),
                a.answered_at.map(when).unwrap_or_default(),
                amount(&a.terms.price),
                persian_digits(&a.terms.delivery_days.to_string()),
                persian_digits(&a.terms.revisions_included.to_string()),
                esc(&a.hash),
            );
        }
        h.push_str("</ol>");
    }
    h.push_str("</section>");

    // The buyer's request the offer answered.
    if let Some(r) = sheet.request {
        let _ = write!(
            h,
            "<section id=\"request\"><h2>درخواست اولیهٔ خریدار</h2><table>\
<tr><th>زمان</th><td>{at}</td></tr><tr><th>شرح</th><td><p>{text}</p>{files}</td></tr>\
<tr><th>مبلغ دلخواه</th><td class=\"amount\">{price}</td></tr><tr><th>مدت دلخواه</th><td>{days}</td></tr>\
</table></section>",
            at = when(r.created_at),
            text = esc(&r.description),
            files = files_list(
                &r.attachment_upload_ids.iter().chain(&r.voice_note_upload_id).collect::<Vec<_>>(),
                sheet.files
            ),
            price = r.desired_price.as_ref().map(amount).unwrap_or_default(),
            days =
                r.desired_delivery_days.map(|d| format!("{} روز", persian_digits(&d.to_string()))).unwrap_or_default(),
        );
    }

    // Deliveries.
    h.push_str("<section id=\"deliveries\"><h2>تحویل‌ها</h2>");
    for d in sheet.deliveries {
        let _ = write!(
            h,
            "<article><h3>مرحلهٔ {} — {}</h3><p>{}</p>{}</article>",
            persian_digits(&d.stage.to_string()),
            when(d.delivered_at),
            esc(d.message.as_deref().unwrap_or_default()),
            files_list(&d.attachment_upload_ids.iter().collect::<Vec<_>>(), sheet.files)
        );
    }
    h.push_str("</section>");

    // Statements.
    h.push_str("<section id=\"statements\"><h2>اظهارات</h2>");
    for s in sheet.statements {
        let _ = write!(
            h,
            "<article><h3>{} — {}</h3><p>{}</p>{}</article>",
            role(&format!("{:?}", s.by).to_lowercase()),
            when(s.created_at),
            esc(&s.text),
            files_list(
                &s.files.attachment_upload_ids.iter().chain(&s.files.voice_note_upload_id).collect::<Vec<_>>(),
                sheet.files
            )
        );
    }
    h.push_str("</section>");

    // Messages.
    h.push_str("<section id=\"messages\"><h2>پیام‌ها</h2>");
    let head = std::mem::take(&mut h);
    h.push_str("</section>");

    // Payments and refunds.
    h.push_str("<section id=\"payments\"><h2>پرداخت‌ها و بازپرداخت‌ها</h2><table>");
    for p in sheet.payments {
        let _ = write!(
            h,
            "<tr><td>پرداخت</td><td class=\"amount\">{}</td><td><code>{:?}</code></td><td>{}</td></tr>",
            amount(&p.amount),
            p.status,
            when(p.succeeded_at.unwrap_or(p.created_at))
        );
    }
    for r in sheet.refunds {
        let _ = write!(
            h,
            "<tr><td>بازپرداخت</td><td class=\"amount\">{}</td><td><code>{:?}</code></td><td>{}</td></tr>",
            amount(&r.amount),
            r.status,
            esc(&r.reason)
        );
    }
    h.push_str("</table></section>");

    // The ledger: every movement of the order's money, with the event that caused it.
    h.push_str("<section id=\"ledger\"><h2>دفتر حساب</h2><table>");
    h.push_str("<tr><th>زمان</th><th>حرکت</th><th>حساب‌ها</th><th>سبب</th></tr>");
    for e in sheet.ledger {
        let postings: Vec<String> =
            e.postings.iter().map(|p| format!("<code>{}</code> {}", esc(&p.account.to_string()), p.amount)).collect();
        let kind = serde_json::to_value(e.kind).ok().and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"amount\">{} {}</td><td><code>{}</code></td></tr>",
            when(e.at),
            esc(&kind),
            postings.join("<br>"),
            esc(&e.currency),
            esc(&e.cause)
        );
    }
    h.push_str("</table></section>");

    // Timelines.
    h.push_str("<section id=\"timelines\"><h2>رویدادها</h2>");
    for (name, events) in sheet.timelines {
        let _ = write!(
            h,
            "<h3>{}</h3><table><tr><th>#</th><th>زمان</th><th>کننده</th><th>رویداد</th><th>هش</th></tr>",
            esc(name)
        );
        for e in events {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{} <bdi>{}</bdi></td><td><code>{}</code></td><td><code class=\"hash\">{}</code></td></tr>",
                persian_digits(&e.seq.to_string()),
                when(e.at),
                role(&format!("{:?}", e.actor).to_lowercase()),
                esc(e.actor_id.as_deref().unwrap_or_default()),
                esc(&e.event),
                esc(e.hash.get(..19).unwrap_or(&e.hash))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // Every file.
    h.push_str("<section id=\"files\"><h2>همهٔ فایل‌ها</h2><table><tr><th>فایل</th><th>SHA-256</th></tr>");
    for file in sheet.files.values() {
        let _ = write!(
            h,
            "<tr><td><ul>{}</ul></td><td><code class=\"hash\">{}</code></td></tr>",
            file_link(file),
            esc(&file.sha256)
        );
    }
    h.push_str("</table></section>");
    h.push_str(
        "<p>درستی این بسته را با <code>peyman-verify</code> و کلید عمومی استقرار بسنجید.</p></main></body></html>\n",
    );
    Page { head, tail: h }
}

/// A fixed value's name as the API writes it (`not_as_agreed`, `partial_refund`).
fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn role(name: &str) -> &'static str {
    match name {
        "buyer" => "خریدار",
        "seller" => "فروشنده",
        "support" => "پشتیبانی",
        _ => "سامانه",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_solar_hijri_with_persian_digits() {
        let utc = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        let at = utc("2026-11-29T14:03:00Z");
        assert_eq!(jalali(at), "۱۴۰۵/۰۹/۰۸ ۱۷:۳۳", "Tehran is UTC+03:30");
        assert_eq!(gregorian(at), "2026-11-29 14:03 UTC");
        // Nowruz: the first of Farvardin.
        assert_eq!(jalali(utc("2025-03-21T00:00:00Z")), "۱۴۰۴/۰۱/۰۱ ۰۳:۳۰");
        // After 20:30 UTC it is the next day in Tehran.
        assert_eq!(jalali(utc("2026-11-29T20:29:00Z")), "۱۴۰۵/۰۹/۰۸ ۲۳:۵۹");
        assert_eq!(jalali(utc("2026-11-29T20:30:00Z")), "۱۴۰۵/۰۹/۰۹ ۰۰:۰۰");
        // Before 2023 Tehran kept summer time (+04:30).
        assert_eq!(jalali(utc("2021-06-01T20:00:00Z")), "۱۴۰۰/۰۳/۱۲ ۰۰:۳۰");
    }

    #[test]
    fn rials_are_grouped_in_threes() {
        let rials = |amount| super::amount(&Money { amount, currency: "IRR".into() });
        assert_eq!(rials(12_000_000), "۱۲٬۰۰۰٬۰۰۰ ریال");
        assert_eq!(rials(999), "۹۹۹ ریال");
        assert_eq!(rials(1_000), "۱٬۰۰۰ ریال");
        assert_eq!(super::amount(&Money { amount: 123_456, currency: "USD".into() }), "123,456 USD (smallest unit)");
    }

    #[test]
    fn text_is_escaped_and_links_are_encoded() {
        assert_eq!(esc("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
        assert_eq!(href("files/01A-my file#1.pdf"), "files/01A-my%20file%231.pdf");
    }
}
