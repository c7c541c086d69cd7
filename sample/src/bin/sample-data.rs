//! `sample-data [DIR]`: writes the bundled sample files (default `deploy/sample`) from the seed.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "deploy/sample".to_owned()));
    std::fs::create_dir_all(&dir)?;
    for (name, content) in sample::files::bundle() {
        let path = dir.join(&name);
        sample::files::write_gz(&path, &content)?;
        println!("{} ({} lines)", path.display(), content.lines().count());
    }
    Ok(())
}
