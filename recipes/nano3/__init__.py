"""nano3: the Nemotron nano3 recipe (data prep, pretrain, SFT, RL) built on Nemotron Kit."""
