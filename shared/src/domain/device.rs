//! A user agent as a mail names it: a browser and a system from fixed lists ("Firefox on
//! Linux"), never the string itself. Whoever signs in chooses that string, and a mail from us
//! must not carry their words (a URL, "confirm your identity at ...") to the account's owner.
//! The whole string stays in the audit trail.

/// Browsers, most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
const BROWSERS: [(&str, &str); 11] = [
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
];

/// Systems, most specific first: iOS says "like Mac OS X", Android and ChromeOS say "Linux".
const SYSTEMS: [(&str, &str); 8] = [
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

fn first_named(user_agent: &str, names: &[(&str, &'static str)]) -> Option<&'static str> {
    names
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| *name)
}

/// "Firefox on Linux", "Chrome", "a browser on Windows", or `None` when neither is known.
pub fn describe(user_agent: &str) -> Option<String> {
    match (
        first_named(user_agent, &BROWSERS),
        first_named(user_agent, &SYSTEMS),
    ) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (Some(browser), None) => Some(browser.to_owned()),
        (None, Some(system)) => Some(format!("a browser on {system}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn real_user_agents_are_named_by_browser_and_system() {
        for (agent, named) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            ("curl/8.5.0", "curl"),
        ] {
            assert_eq!(describe(agent).as_deref(), Some(named), "{agent}");
        }
    }

    #[test]
    fn free_text_is_never_repeated() {
        let phishing = "please confirm your identity at https://evil.example/verify";
        assert_eq!(describe(phishing), None);
        let dressed = "Firefox/140.0 (Linux) confirm your identity at https://evil.example/verify";
        assert_eq!(describe(dressed).as_deref(), Some("Firefox on Linux"));
    }
}
