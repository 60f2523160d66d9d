/* commands.h: the elmo subcommands (one file each in tools/). argv starts after the name. */
#ifndef ELMO_COMMANDS_H
#define ELMO_COMMANDS_H

int cmd_embed(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_similarity(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_random_model(int argc, char **argv);
int cmd_dump_token_embeddings(int argc, char **argv);
int cmd_ngram(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* stub unless built with libmicrohttpd */

#endif
