# Turns a file into a C++ source defining one function that returns it:
#   cmake -DIN=file -DOUT=out.cpp -DNAME=fn -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," body "${hex}")
math(EXPR size "${n} / 2")
file(WRITE "${OUT}"
"// Generated from ${IN} by cmake/embed.cmake; do not edit.\n"
"#include <string_view>\n"
"namespace presence::edge {\n"
"static const char data_[${size} + 1] = {${body} 0};\n"
"std::string_view ${NAME}() { return {data_, ${size}}; }\n"
"}\n")
