# Drives real zsh completion in a pseudo-terminal and writes every candidate zsh offers.
#   zsh -f zsh_capture.zsh (source FILE | fpath DIR) "partial command line" HITS_FILE
# compadd is wrapped so each candidate is appended to HITS_FILE; a key bound after TAB writes
# END, so the caller knows the completion finished without sleeping.
zmodload zsh/zpty
mode=$1 script=$2 line=$3 hits=$4
zpty z zsh -f -i
zpty -w z "PROMPT='%% '"
if [[ $mode == fpath ]]; then
  zpty -w z "fpath=(${(q)script} \$fpath); autoload -U compinit; compinit -u -D"
else
  zpty -w z "autoload -U compinit; compinit -u -D; source ${(q)script}"
fi
zpty -w z "compadd() { local -a __h; builtin compadd -O __h \"\$@\"; (( \$#__h )) && print -rl -- \$__h >> ${(q)hits}; builtin compadd \"\$@\"; }"
zpty -w z "__cap_end() { print -r -- END >> ${(q)hits}; }; zle -N __cap_end; bindkey '^Xe' __cap_end"
zpty -w z 'print READY$((1+1))'
local out all
while zpty -r -t z out 2>/dev/null || sleep 0.05; do all+=$out; [[ $all == *READY2* ]] && break; done
zpty -w -n z "$line"$'\t\C-xe'
for i in {1..400}; do [[ -f $hits ]] && grep -qx END $hits && break; sleep 0.05; done
zpty -d z
[[ -f $hits ]] && grep -qx END $hits
