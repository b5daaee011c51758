//! Named sets of [`Behaviour`]: `default` (the guesses of giosg-api.md) and `contrary` (every
//! guess flipped at once).

use std::fmt;

use super::{Behaviour, ConfigError};

/// The environment variable [`Profile::from_env`] and the `giosg-sim` binary read.
pub const PROFILE_ENV: &str = "GIOSG_SIM_PROFILE";

/// A named set of settings for every `[inferred]` or `[unknown]` behaviour of Giosg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `default`: the simulator's best guesses ([`Behaviour::default`]).
    #[default]
    Default,
    /// `contrary`: every guess flipped away from the default ([`Behaviour::contrary`]).
    Contrary,
}

impl Profile {
    /// Every profile, in the order they are listed in messages.
    pub const ALL: [Profile; 2] = [Profile::Default, Profile::Contrary];

    /// The profile called `name` (`default` or `contrary`, exactly).
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|profile| profile.name() == name)
            .ok_or_else(|| ConfigError::UnknownProfile {
                name: name.to_owned(),
                valid: Self::names(),
            })
    }

    /// The profile's name, as [`Profile::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Contrary => "contrary",
        }
    }

    /// The settings of this profile.
    pub fn behaviour(self) -> Behaviour {
        match self {
            Self::Default => Behaviour::default(),
            Self::Contrary => Behaviour::contrary(),
        }
    }

    /// The profile named by the environment variable `GIOSG_SIM_PROFILE`; unset or empty is
    /// [`Profile::Default`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_var(std::env::var(PROFILE_ENV))
    }

    /// [`Profile::from_env`] on the variable's value as `std::env::var` reads it.
    fn from_var(value: Result<String, std::env::VarError>) -> Result<Self, ConfigError> {
        match value {
            Ok(name) if !name.trim().is_empty() => Self::parse(name.trim()),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(Self::Default),
            Err(std::env::VarError::NotUnicode(raw)) => Err(ConfigError::UnknownProfile {
                name: raw.to_string_lossy().into_owned(),
                valid: Self::names(),
            }),
        }
    }

    /// `default, contrary`.
    fn names() -> String {
        Self::ALL
            .iter()
            .map(|profile| profile.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Profile {
    type Err = ConfigError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for profile in Profile::ALL {
            assert_eq!(Profile::parse(profile.name()).unwrap(), profile);
        }
        let error = Profile::parse("strict").unwrap_err().to_string();
        assert!(
            error.contains("strict") && error.contains("default, contrary"),
            "{error}"
        );
    }

    #[test]
    fn the_environment_variable_names_the_profile_and_unset_or_empty_is_default() {
        use std::env::VarError;
        assert_eq!(
            Profile::from_var(Err(VarError::NotPresent)).unwrap(),
            Profile::Default
        );
        assert_eq!(
            Profile::from_var(Ok(String::new())).unwrap(),
            Profile::Default
        );
        assert_eq!(Profile::from_var(Ok(" ".into())).unwrap(), Profile::Default);
        assert_eq!(
            Profile::from_var(Ok("contrary".into())).unwrap(),
            Profile::Contrary
        );
        assert!(Profile::from_var(Ok("Contrary!".into())).is_err());
        let from_env = Profile::from_env();
        match std::env::var(PROFILE_ENV) {
            Ok(name) if name == "contrary" => assert_eq!(from_env.unwrap(), Profile::Contrary),
            Err(_) => assert_eq!(from_env.unwrap(), Profile::Default),
            Ok(_) => {}
        }
    }

    #[test]
    fn profiles_map_to_their_behaviours() {
        assert_eq!(Profile::Default.behaviour(), Behaviour::default());
        assert_eq!(Profile::Contrary.behaviour(), Behaviour::contrary());
    }
}
