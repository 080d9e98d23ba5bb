# Drives real bash completion (readline in a pseudo-terminal) and writes every candidate the
# completion function returns, as readline called it (COMP_LINE, COMP_WORDS split at
# COMP_WORDBREAKS, ...).
#   zsh -f bash_capture.zsh SCRIPT "partial command line" HITS_FILE
# The function the script registers is wrapped so COMPREPLY goes to HITS_FILE followed by END;
# the line as readline left it after TAB (what the user sees) goes to HITS_FILE.line.
zmodload zsh/zpty
script=$1 line=$2 hits=$3
zpty b bash --norc --noprofile -i
zpty -w b "PS1='$ '; bind 'set bell-style none'; source ${(q)script}"
zpty -w b "__cap_fn=\$(complete -p locald | sed -E 's/.*-F ([^ ]+) locald\$/\\1/')"
zpty -w b "__cap() { \"\$__cap_fn\" \"\$@\"; { printf '%s\\n' \"\${COMPREPLY[@]}\"; echo END; } > ${(q)hits}.tmp; mv ${(q)hits}.tmp ${(q)hits}; }; complete -F __cap locald"
zpty -w b "bind -x '\"\\C-xl\": printf \"%s\\n\" \"\$READLINE_LINE\" > ${(q)hits}.tmpl; mv ${(q)hits}.tmpl ${(q)hits}.line'"
zpty -w b 'echo READY$((1+1))'
local out all
while zpty -r -t b out 2>/dev/null || sleep 0.05; do all+=$out; [[ $all == *READY2* ]] && break; done
zpty -w -n b "$line"$'\t'
for i in {1..400}; do [[ -f $hits ]] && break; sleep 0.05; done
zpty -w -n b $'\C-xl'
for i in {1..400}; do [[ -f $hits.line ]] && break; sleep 0.05; done
zpty -d b
[[ -f $hits ]] && grep -qx END $hits
