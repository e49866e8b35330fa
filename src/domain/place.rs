//! Where a runbook runs: its AWS account and Region. An `aws:approve` step waits in
//! the account and Region of its execution (the action runs in local executions only),
//! so every call about it is made there. Pure: names and their checks.

use std::collections::BTreeMap;
use std::fmt;

use super::starter::StartedBy;

/// An account and Region. The account is unknown only for a single-account deployment
/// that was not told its own (`HUB_ACCOUNT_ID` unset, as in local runs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    pub account: Option<String>,
    pub region: String,
}

impl Place {
    pub fn new(account: Option<&str>, region: &str) -> Self {
        Self {
            account: account.map(str::to_owned),
            region: region.to_owned(),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(account) => write!(f, "account {account}, {}", self.region),
            None => f.write_str(&self.region),
        }
    }
}

/// A 12-digit AWS account ID.
pub fn is_account_id(raw: &str) -> bool {
    raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: a Region goes into endpoints and
/// console links, so nothing else is taken for one.
pub fn is_region_name(raw: &str) -> bool {
    (4..=32).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw.ends_with(|c: char| c.is_ascii_digit())
        && raw.contains('-')
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Friendly names for accounts (`ACCOUNT_NAMES`: `111122223333=payments-prod,…`),
/// shown on prompts next to the ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountNames(BTreeMap<String, String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountNamesError {
    #[error("{0:?} is not AccountId=name")]
    NotAPair(String),
    #[error("{0:?} is not a 12-digit account ID")]
    NotAnAccount(String),
    #[error("account {0} is named twice")]
    Duplicate(String),
    #[error("the name of account {0} is empty or longer than 64 characters")]
    BadName(String),
}

impl AccountNames {
    pub fn parse(raw: &str) -> Result<Self, AccountNamesError> {
        let mut names = BTreeMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let shown = || entry.chars().take(80).collect::<String>();
            let (account, name) = entry
                .split_once('=')
                .ok_or_else(|| AccountNamesError::NotAPair(shown()))?;
            let (account, name) = (account.trim(), name.trim());
            if !is_account_id(account) {
                return Err(AccountNamesError::NotAnAccount(
                    account.chars().take(40).collect(),
                ));
            }
            if name.is_empty() || name.chars().count() > 64 {
                return Err(AccountNamesError::BadName(account.to_owned()));
            }
            if names.insert(account.to_owned(), name.to_owned()).is_some() {
                return Err(AccountNamesError::Duplicate(account.to_owned()));
            }
        }
        Ok(Self(names))
    }

    /// Names given as a map (the rules document's `"account_names"`), checked as
    /// [`AccountNames::parse`] checks them.
    pub fn from_map(map: BTreeMap<String, String>) -> Result<Self, AccountNamesError> {
        let mut names = BTreeMap::new();
        for (account, name) in map {
            let (account, name) = (account.trim().to_owned(), name.trim().to_owned());
            if !is_account_id(&account) {
                return Err(AccountNamesError::NotAnAccount(
                    account.chars().take(40).collect(),
                ));
            }
            if name.is_empty() || name.chars().count() > 64 {
                return Err(AccountNamesError::BadName(account));
            }
            if names.insert(account.clone(), name).is_some() {
                return Err(AccountNamesError::Duplicate(account));
            }
        }
        Ok(Self(names))
    }

    /// These names, with `more`'s added; where both name an account, `more`'s wins.
    pub fn with(&self, more: &AccountNames) -> AccountNames {
        let mut names = self.0.clone();
        names.extend(more.0.iter().map(|(a, n)| (a.clone(), n.clone())));
        Self(names)
    }

    pub fn name_of(&self, account: &str) -> Option<&str> {
        self.0.get(account).map(String::as_str)
    }

    /// The accounts named.
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// A place as a prompt shows it: the account's friendly name, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown<'a> {
    pub place: &'a Place,
    pub account_name: Option<String>,
    /// Who started the run, as matched to Slack; `None`: shown as SSM names them.
    pub started_by: Option<StartedBy<'a>>,
}

impl<'a> Shown<'a> {
    pub fn new(place: &'a Place, names: &'a AccountNames) -> Self {
        Self {
            place,
            account_name: place
                .account
                .as_deref()
                .and_then(|a| names.name_of(a))
                .map(str::to_owned),
            started_by: None,
        }
    }

    /// Shown with the name already looked up (see [`crate::rules::RuleBook::account_name`]).
    pub fn named(place: &'a Place, account_name: Option<String>) -> Self {
        Self {
            place,
            account_name,
            started_by: None,
        }
    }

    /// Shown with who started the run, and whether they may approve it.
    pub fn started_by(self, started_by: Option<StartedBy<'a>>) -> Self {
        Self { started_by, ..self }
    }

    /// Only the Region, for a place whose account is not known.
    pub fn region_only(place: &'a Place) -> Self {
        Self {
            place,
            account_name: None,
            started_by: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_a_map_are_checked_and_win_over_the_settings() {
        let settings = AccountNames::parse("111122223333=payments, 444455556666=staging").unwrap();
        let document = AccountNames::from_map(BTreeMap::from([
            ("111122223333".to_owned(), "payments-prod".to_owned()),
            ("777788889999".to_owned(), "sandbox".to_owned()),
        ]))
        .unwrap();
        let names = settings.with(&document);
        assert_eq!(names.name_of("111122223333"), Some("payments-prod"));
        assert_eq!(names.name_of("444455556666"), Some("staging"));
        assert_eq!(names.name_of("777788889999"), Some("sandbox"));
        for (account, name) in [
            ("1111", "x"),
            ("111122223333", ""),
            ("111122223333", &"n".repeat(65)),
        ] {
            let map = BTreeMap::from([(account.to_owned(), name.to_owned())]);
            assert!(AccountNames::from_map(map).is_err(), "{account}={name}");
        }
    }

    #[test]
    fn account_names_are_read_and_checked() {
        let names =
            AccountNames::parse(" 111122223333 = payments-prod , 444455556666=staging").unwrap();
        assert_eq!(names.name_of("111122223333"), Some("payments-prod"));
        assert_eq!(names.name_of("444455556666"), Some("staging"));
        assert_eq!(names.name_of("999999999999"), None);
        assert_eq!(AccountNames::parse("").unwrap(), AccountNames::default());
        for bad in [
            "111122223333",
            "1111=payments",
            "111122223333=",
            "111122223333=a,111122223333=b",
        ] {
            assert!(AccountNames::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_region_names_are_regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "EU-WEST-1",
            "eu west 1",
            "eu-west-1.evil",
            "x",
            "eu-west",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }
}
