//! Reading what the commands need: the rule pack, the date, snapshot files.

use crate::{Cli, Failure, Format};
use jiff::civil::Date;
use lenaguard_domain::RulePack;
use lenaguard_domain::pack::{self, BUILTIN_FILES};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Everything a command shares.
#[derive(Debug)]
pub struct Context {
    pub pack: RulePack,
    /// The pack's files, for `rules show`.
    pub pack_files: Vec<(String, String)>,
    pub today: Date,
    pub format: Format,
}

impl Context {
    pub fn from_cli(cli: &Cli) -> Result<Context, Failure> {
        let pack_files = match &cli.pack {
            Some(dir) => read_pack_dir(dir)?,
            None => BUILTIN_FILES
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
        };
        let pack = load_pack(&pack_files)?;
        let today = match &cli.today {
            Some(s) => parse_date("--today", s)?,
            None => jiff::ZonedDateTime::now().date(),
        };
        Ok(Context {
            pack,
            pack_files,
            today,
            format: cli.format,
        })
    }
}

pub fn load_pack(files: &[(String, String)]) -> Result<RulePack, Failure> {
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    Ok(pack::load(&borrowed)?)
}

pub fn parse_date(field: &str, s: &str) -> Result<Date, Failure> {
    s.parse().map_err(|_| {
        Failure::Input(format!(
            "{field}: {s:?} is not accepted; expected a date YYYY-MM-DD"
        ))
    })
}

/// A pack directory: `pack.toml` and the files it lists. A path to `pack.toml` itself is accepted too.
pub fn read_pack_dir(path: &Path) -> Result<Vec<(String, String)>, Failure> {
    let dir: PathBuf = if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    };
    let read = |name: &str| -> Result<String, Failure> {
        let p = dir.join(name);
        std::fs::read_to_string(&p)
            .map_err(|e| Failure::Input(format!("{}: cannot read ({e})", p.display())))
    };
    let meta = read("pack.toml")?;
    let listed: Vec<String> = meta
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("files").and_then(|f| f.as_array()).cloned())
        .map(|files| {
            files
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut files = vec![("pack.toml".to_string(), meta)];
    for name in listed {
        if name.contains('/') || name.contains("..") {
            return Err(Failure::Input(format!(
                "pack.toml: files: {name:?} must be a file name in the pack directory"
            )));
        }
        let text = read(&name)?;
        files.push((name, text));
    }
    Ok(files)
}

/// Read a file, or standard input for `-`.
pub fn read_source(path: &str) -> Result<String, Failure> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::Input(format!("standard input: {e}")))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::Input(format!("{path}: cannot read ({e})")))
    }
}

/// Print JSON to standard output.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}
