//! The coarse device class of a hosted-page view, from the User-Agent: desktop, mobile or
//! tablet (the dashboard's device chart). Parsing is woothee's; it has no tablet class, so
//! tablets are told apart by the usual marks (an iPad, or Android without "Mobile", which is
//! how Android tablets' browsers identify). Crawlers and link previewers are no views at all.

use invoice_domain::Device;
use woothee::parser::Parser;

/// None for crawlers (search engines, link previews in chat apps and mail scanners).
pub fn classify(user_agent: Option<&str>) -> Option<Device> {
    let ua = user_agent.unwrap_or_default();
    let Some(parsed) = Parser::new().parse(ua) else { return Some(Device::Desktop) };
    let tablet = parsed.os == "iPad" || (parsed.os == "Android" && !ua.contains("Mobile"));
    match parsed.category {
        "crawler" => None,
        _ if tablet => Some(Device::Tablet),
        "smartphone" | "mobilephone" => Some(Device::Mobile),
        _ => Some(Device::Desktop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_real_user_agents() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                Some(Device::Desktop),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                Some(Device::Desktop),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                Some(Device::Desktop),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                Some(Device::Mobile),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                Some(Device::Mobile),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                Some(Device::Tablet),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                Some(Device::Tablet),
            ),
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", None),
            ("", Some(Device::Desktop)),
        ];
        for (ua, expected) in cases {
            assert_eq!(classify(Some(ua)), expected, "{ua}");
        }
        assert_eq!(classify(None), Some(Device::Desktop));
    }
}
